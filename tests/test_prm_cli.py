"""`prmkit prm train`, `prmkit score` and `prmkit eval processbench` end to end."""

import json

from conftest import last_json, run_cli
from test_prm_train import make_samples

from prmkit.data import Sample, StepLabels, read_jsonl, write_jsonl
from prmkit.worlds import arithmetic

TINY = [
    "--d-model",
    "32",
    "--n-layer",
    "1",
    "--n-head",
    "2",
    "--block-size",
    "128",
    "--no-progress",
]


def test_train_score_eval_on_any_labeled_file(tmp_path, capsys):
    samples = make_samples(48, seed=7)
    # labels as `prmkit label` writes them: soft + hard with provenance
    for s in samples[:24]:
        fe = s.first_error
        hard = [fe < 0 or i < fe for i in range(len(s.steps))]
        s.labels = StepLabels(
            first_error=fe,
            hard=hard,
            soft=[0.9 if h else 0.1 for h in hard],
            provenance={"method": "mc", "k": 8},
        )
    write_jsonl(tmp_path / "train.jsonl", samples)
    code, out, err = run_cli(
        [
            "prm",
            "train",
            "--data",
            tmp_path / "train.jsonl",
            "--out",
            tmp_path / "prm",
            "--labels",
            "soft",
            "--steps",
            "15",
            "--batch-size",
            "8",
            *TINY,
        ],
        capsys,
    )
    assert code == 0, err
    t = last_json(out)
    assert (
        t["kind"] == "prm"
        and t["label_source"] == "exact+mc-soft"
        and t["loss_last"] < t["loss_first"]
    )
    code, out, err = run_cli(
        [
            "score",
            "--prm",
            tmp_path / "prm",
            "--in",
            tmp_path / "train.jsonl",
            "--out",
            tmp_path / "scored.jsonl",
        ],
        capsys,
    )
    assert code == 0, err
    scored = read_jsonl(tmp_path / "scored.jsonl", Sample.from_dict)
    assert [len(s.meta["prm_scores"]) for s in scored] == [len(s.steps) for s in samples]
    assert all(0 <= x <= 1 for s in scored for x in s.meta["prm_scores"])
    assert scored[0].labels is not None  # the record is kept whole
    code, out, err = run_cli(
        [
            "eval",
            "processbench",
            "--prm",
            tmp_path / "prm",
            "--data",
            tmp_path / "train.jsonl",
            "--threshold",
            "0.5",
        ],
        capsys,
    )
    assert code == 0, err
    e = last_json(out)
    assert e["threshold"] == 0.5 and e["n_eval"] == 48 and 0 <= e["acc_error"] <= 1


def test_orm_and_implicit_from_the_cli(tmp_path, capsys, tiny_policy):
    write_jsonl(tmp_path / "d.jsonl", make_samples(24, seed=8))
    code, out, err = run_cli(
        [
            "prm",
            "train",
            "--kind",
            "orm",
            "--data",
            tmp_path / "d.jsonl",
            "--out",
            tmp_path / "orm",
            "--steps",
            "5",
            "--batch-size",
            "8",
            *TINY,
        ],
        capsys,
    )
    assert code == 0, err
    assert last_json(out)["label_source"] == "outcomes"
    assert json.loads((tmp_path / "orm" / "config.json").read_text())["kind"] == "orm"
    code, out, err = run_cli(
        [
            "prm",
            "train",
            "--kind",
            "implicit",
            "--init",
            tiny_policy,
            "--data",
            tmp_path / "d.jsonl",
            "--out",
            tmp_path / "imp",
            "--steps",
            "3",
            "--batch-size",
            "8",
            "--no-progress",
        ],
        capsys,
    )
    assert code == 0, err
    code, out, err = run_cli(
        [
            "score",
            "--prm",
            tmp_path / "imp",
            "--in",
            tmp_path / "d.jsonl",
            "--out",
            tmp_path / "s.jsonl",
        ],
        capsys,
    )
    assert code == 0, err
    assert last_json(out)["kind"] == "implicit-prm"


def test_user_mistakes_exit_2_without_traceback(tmp_path, capsys, tiny_policy):
    write_jsonl(tmp_path / "d.jsonl", make_samples(4, seed=9))
    code, _, err = run_cli(
        [
            "prm",
            "train",
            "--kind",
            "implicit",
            "--data",
            tmp_path / "d.jsonl",
            "--out",
            tmp_path / "x",
        ],
        capsys,
    )
    assert code == 2 and "--kind implicit needs --init" in err
    code, _, err = run_cli(
        [
            "score",
            "--prm",
            tiny_policy,
            "--in",
            tmp_path / "d.jsonl",
            "--out",
            tmp_path / "s.jsonl",
        ],
        capsys,
    )
    assert code == 2 and "kind 'policy', expected prm" in err
    (tmp_path / "bad.jsonl").write_text(
        json.dumps(
            {
                "id": 1,
                "problem_id": 1,
                "prompt": "p",
                "reference": "1",
                "steps": ["caf\u00e9"],
                "first_error": 0,
            }
        )
        + "\n"
    )
    code, _, err = run_cli(
        [
            "prm",
            "train",
            "--data",
            tmp_path / "bad.jsonl",
            "--out",
            tmp_path / "x",
            "--steps",
            "1",
            *TINY,
        ],
        capsys,
    )
    assert (
        code == 2
        and "outside the built-in tokenizer's vocabulary" in err
        and "Traceback" not in err
    )


def test_demo_stage_trains_and_evaluates(tmp_path, tiny_policy, monkeypatch):
    from prmkit.demo import Context
    from prmkit.demo import prm as demo_prm

    monkeypatch.setitem(demo_prm.BUDGET, "quick", (12, 2, 8))
    write_jsonl(tmp_path / "samples.jsonl", make_samples(60, seed=11))
    (tmp_path / "train.jsonl").write_text(
        "".join(json.dumps(p) + "\n" for p in arithmetic.generate(20, seed=5))
    )
    ctx = Context(tmp_path, quick=True, seed=0, progress=False)
    ctx.artifacts = {
        "policy": str(tiny_policy),
        "samples": str(tmp_path / "samples.jsonl"),
        "train_problems": str(tmp_path / "train.jsonl"),
    }
    rep = demo_prm.stage_prm(ctx)
    assert rep.summary["train_solutions"] == 48  # 12 problems x 4 samples
    assert rep.summary["label_source"] == "mc"
    assert rep.summary["loss_last"] < rep.summary["loss_first"]
    for k in ("f1", "acc_error", "acc_correct", "threshold", "auroc"):
        assert k in rep.summary
    assert "| rule PRM (exact verifier) | 1.0 | 1.0 | 1.0 |" in rep.markdown
    assert (tmp_path / "prm" / "config.json").exists()
