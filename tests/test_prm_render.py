"""`--render`: a PRM reads toolqa episodes with each `get` naming its entity, in training
and wherever it scores, from the one view saved with it."""

import json
import random

import pytest
from bert_tiny import build_tiny_bert
from conftest import last_json, run_cli

from prmkit.data import Sample, write_jsonl
from prmkit.data.turns import split_step
from prmkit.prm import load_scorer
from prmkit.worlds import toolqa
from prmkit.worlds.toolqa.render import named_steps

EPISODE = [
    "search[Defefi] => L29 Defefi; L44 Defufi",
    "get[L44, mayor] => P18 Somu Boro",
    "get[P75, age] => 30",
    "get[P18, age] => 32",
    "answer[32] => done",
]


def test_named_steps_names_listed_ids_only():
    assert named_steps(EPISODE) == [
        "search[Defefi] => L29 Defefi; L44 Defufi",
        "get[L44 Defufi, mayor] => P18 Somu Boro",  # listed by the search
        "get[P75, age] => 30",  # never listed: left as written
        "get[P18 Somu Boro, age] => 32",  # listed by the get before
        "answer[32] => done",
    ]
    assert named_steps(named_steps(EPISODE)) == named_steps(EPISODE)  # idempotent


def test_named_steps_reads_no_name_from_an_error_and_the_latest_listing():
    steps = [
        "search[Xa] => P1 Xo; P2 Xa",
        "get[P2, age] => error: no entity 'P2 Xe'; ids come from search",  # echo, not a listing
        "get[P2, age] => 41",
        "search[Xo] => P1 Xa",  # a later listing of P1 wins
        "get[P1, age",  # generation cut off mid-action: no observation
    ]
    assert named_steps(steps) == [
        steps[0],
        "get[P2 Xa, age] => error: no entity 'P2 Xe'; ids come from search",
        "get[P2 Xa, age] => 41",
        steps[3],
        "get[P1 Xa, age",
    ]


def toolqa_samples(n: int, seed: int = 0) -> list[Sample]:
    rng, out = random.Random(seed), []
    for i, p in enumerate(toolqa.generate(n, seed=seed)):
        steps = toolqa.solve(p["prompt"]) if i % 2 else toolqa.corrupt(p["prompt"], rng)[0]
        g = toolqa.grade(p["prompt"], p["answer"], steps)
        out.append(
            Sample(
                id=f"s{i}",
                problem_id=p["id"],
                prompt=p["prompt"],
                reference=p["answer"],
                steps=steps,
                correct=g.correct,
                first_error=g.first_error,
                turns=[split_step(s) for s in steps],
            )
        )
    return out


def train(tmp_path, capsys, backend_args: list[str], render: str = "toolqa-named"):
    data = tmp_path / "episodes.jsonl"
    write_jsonl(data, toolqa_samples(12))
    out = tmp_path / f"prm-{render}"
    args = ["prm", "train", "--data", data, "--out", out, "--steps", "3", "--batch-size", "4"]
    code, stdout, err = run_cli([*args, "--render", render, "--no-progress", *backend_args], capsys)
    assert code == 0, err
    return out, last_json(stdout)


def same_model_reading_as_written(folder):
    """The PRM at `folder` with its config's render removed: the same weights, no view."""
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["render"] == "toolqa-named"
    (folder / "config.json").write_text(json.dumps({k: v for k, v in cfg.items() if k != "render"}))
    return load_scorer(str(folder))


def check_scores_read_the_named_view(folder):
    items = [(s.prompt, s.steps) for s in toolqa_samples(6, seed=5)]
    named = load_scorer(str(folder)).score(items)
    plain = same_model_reading_as_written(folder)
    assert named == plain.score([(p, named_steps(s)) for p, s in items])
    assert named != plain.score(items)  # the view changes what the PRM reads


TINY_BUILTIN = ["--d-model", "32", "--n-layer", "1", "--n-head", "2", "--block-size", "512"]


def test_builtin_prm_saves_its_render_and_scores_through_it(tmp_path, capsys):
    folder, summary = train(tmp_path, capsys, TINY_BUILTIN)
    assert summary["render"] == "toolqa-named"
    check_scores_read_the_named_view(folder)


def test_encoder_prm_saves_its_render_and_scores_through_it(tmp_path, capsys):
    bert = build_tiny_bert(tmp_path / "bert")
    folder, _ = train(tmp_path, capsys, ["--backend", "encoder", "--init", str(bert)])
    check_scores_read_the_named_view(folder)


def test_no_render_is_the_default_and_not_written(tmp_path, capsys):
    folder, summary = train(tmp_path, capsys, TINY_BUILTIN, render="none")
    assert "render" not in summary
    assert "render" not in json.loads((folder / "config.json").read_text())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--render", "upper"], "--render"),
        (["--render", "toolqa-named", "--kind", "implicit", "--init", "p"], "--render applies"),
    ],
)
def test_bad_render_flags_exit_2(tmp_path, capsys, args, message):
    code, _, err = run_cli(["prm", "train", "--data", "x", "--out", tmp_path / "o", *args], capsys)
    assert code == 2 and message in err


def test_unknown_render_in_config_names_the_file(tmp_path, capsys):
    folder, _ = train(tmp_path, capsys, TINY_BUILTIN)
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(cfg | {"render": "upper"}))
    code, _, err = run_cli(
        ["score", "--prm", folder, "--in", tmp_path / "episodes.jsonl", "--out", tmp_path / "s"],
        capsys,
    )
    assert code == 2 and f"{folder / 'config.json'}: unknown render 'upper'" in err


def test_serve_prm_scores_raw_episodes_through_the_render_in_workers(tmp_path, capsys, monkeypatch):
    """`serve prm --workers 2` on an encoder PRM with a render: a client sends an episode as
    written and gets the scores `score` gives (the view applied in the scoring process)."""
    import httpx

    import prmkit.serve.http as http

    bert = build_tiny_bert(tmp_path / "bert")
    folder, _ = train(tmp_path, capsys, ["--backend", "encoder", "--init", str(bert)])
    episode = toolqa_samples(2, seed=5)[0]
    want = load_scorer(str(folder)).score([(episode.prompt, episode.steps)])[0]
    seen = {}

    def serve_here(app, host, port, what, access_log=False):
        with http.ThreadServer(app) as url:
            body = {"problem": episode.prompt, "steps": episode.steps}
            seen["scores"] = httpx.post(url + "/score", json=body).json()["scores"]
            return url

    monkeypatch.setattr(http, "serve_app", serve_here)
    args = ["serve", "prm", "--model", folder, "--port", "0", "--workers", "2"]
    code, _, err = run_cli(args, capsys)
    assert code == 0, err
    assert seen["scores"] == pytest.approx(want, abs=1e-6)
    code, _, err = run_cli([*args[:-1], "0"], capsys)
    assert code == 2 and "--workers" in err


def test_an_implicit_prm_with_a_render_is_refused(tiny_policy, tmp_path):
    from prmkit.data import InputError
    from prmkit.prm.implicit import ImplicitPRM

    folder = ImplicitPRM.from_policy(str(tiny_policy), beta=0.5).save(tmp_path / "imp")
    load_scorer(str(folder))  # loads without one
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(cfg | {"render": "toolqa-named"}))
    with pytest.raises(InputError, match="an implicit PRM takes no render"):
        load_scorer(str(folder))
