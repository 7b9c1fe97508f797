"""`prmkit search` and `prmkit plot` end to end on the tiny built-in policy."""

from conftest import last_json, run_cli

from prmkit.data import Problem, read_jsonl, write_jsonl
from prmkit.search import SearchRecord
from prmkit.worlds import arithmetic as A


def _problems(tmp_path, k=4):
    path = tmp_path / "problems.jsonl"
    write_jsonl(path, [Problem.from_dict(p) for p in A.generate(k, seed=7)])
    return path


def test_search_and_plot_cli(tiny_policy, tmp_path, capsys):
    probs = _problems(tmp_path)
    common = [
        "--policy",
        tiny_policy,
        "--problems",
        probs,
        "--n",
        4,
        "--max-new-tokens",
        40,
        "--no-progress",
        "--seed",
        1,
    ]
    outs = {}
    for method, extra in (
        ("bon", ["--prm", "rule"]),
        ("vote", []),
        ("beam", ["--prm", "noisy-rule:1", "--expand", 2]),
    ):
        out = tmp_path / f"{method}.jsonl"
        code, stdout, err = run_cli(
            ["search", "--method", method, "--out", out, *common, *extra], capsys
        )
        assert code == 0, err
        summary = last_json(stdout)
        recs = read_jsonl(out, SearchRecord.from_dict)
        assert len(recs) == 4 and summary["problems"] == 4
        assert summary["tokens"] == sum(r.tokens for r in recs) > 0
        assert summary["accuracy"] == sum(r.correct for r in recs) / 4
        assert summary["seconds"] > 0
        outs[method] = (summary, recs)
    bon, vote = outs["bon"], outs["vote"]
    assert (
        bon[0]["prm"] == "rule"
        and bon[0]["prm_kind"] == "rule"
        and bon[0]["prm_tokens"] > 0
        and vote[0]["prm_tokens"] == 0
    )
    assert set(bon[0]["curve"]) == {"1", "2", "4"}
    assert [r.tokens for r in bon[1]] == [r.tokens for r in vote[1]]  # one seed, one pool
    beam = outs["beam"]
    assert beam[0]["label"] == "beam-min M=2" and all(r.meta["beams"] == 2 for r in beam[1])
    # the tiny policy's context (128) is shorter than prompt + 96 tokens: beam stops in time
    code, stdout, err = run_cli(
        [
            "plot",
            "--results",
            tmp_path / "bon.jsonl",
            tmp_path / "vote.jsonl",
            tmp_path / "beam.jsonl",
            "--out",
            tmp_path / "plots",
        ],
        capsys,
    )
    assert code == 0, err
    s = last_json(stdout)
    assert set(s["points"]) == {"bon-min", "vote", "beam-min M=2"}
    for key in ("accuracy_vs_n", "accuracy_vs_tokens"):
        assert open(s[key], "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_search_cli_input_errors(tiny_policy, tmp_path, capsys):
    probs = _problems(tmp_path, 2)
    base = ["search", "--policy", tiny_policy, "--out", tmp_path / "r.jsonl", "--n", 2]
    code, _, err = run_cli([*base, "--method", "bon", "--problems", probs], capsys)
    assert code == 2 and "--prm" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text(probs.read_text() + '{"id": "x", "prompt": 3}\n')
    code, _, err = run_cli([*base, "--method", "vote", "--problems", bad], capsys)
    assert code == 2 and f"{bad}:3:" in err
    code, _, err = run_cli(
        [*base, "--method", "bon", "--problems", probs, "--prm", "noisy-rule:x"], capsys
    )
    assert code == 2 and "SIGMA" in err
    code, _, err = run_cli(
        [*base, "--method", "bon", "--problems", probs, "--prm", "rule", "--aggregate", "max"],
        capsys,
    )
    assert code == 2
    code, _, err = run_cli(["plot", "--results", probs, "--out", tmp_path / "p"], capsys)
    assert code == 2 and f"{probs}:1:" in err and "prmkit search" in err


def test_demo_stage_reports_methods_and_goals(tmp_path, monkeypatch):
    from test_search import ScriptedPolicy

    import prmkit.demo.search as stage
    from prmkit.demo import Context

    monkeypatch.setattr(stage, "load_generator", lambda path: ScriptedPolicy(0.6))
    ctx = Context(tmp_path, quick=True, seed=0, progress=False)
    ctx.artifacts |= {"test_problems": str(_problems(tmp_path, 30)), "policy": "scripted"}
    rep = stage.stage_search(ctx)
    assert "exact rule PRM" in rep.markdown and "weighted-vote@16 minus vote@16" in rep.markdown
    methods = rep.summary["methods"]
    assert set(methods) == {
        "vote",
        "bon-min",
        "weighted-vote-min",
        "beam-min M=4",
        "beam-min M=2 K=4 wv",
        "reject-min k=1 keep=0.25",
    }
    assert rep.summary["problems"] == 24  # the quick stage's share of the held-out problems
    # the exact PRM: weighted vote = best-of-N = pass@16, well above majority vote
    assert (
        methods["bon-min"]["accuracy"]
        == methods["weighted-vote-min"]["accuracy"]
        > methods["vote"]["accuracy"]
    )
    assert rep.summary["goals"]["weighted_vote_margin"]["met"]
    for beam in ("beam-min M=4", "beam-min M=2 K=4 wv"):
        assert methods[beam]["tokens_per_problem"] < 0.6 * methods["bon-min"]["tokens_per_problem"]
    assert "beam-min M=2 K=4 wv (N=8)" in rep.markdown
    assert (tmp_path / "accuracy_vs_n.png").exists() and (
        tmp_path / "search_results.jsonl"
    ).exists()
