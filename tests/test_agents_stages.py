"""Every step-level stage runs on trajectories: a step is one turn (action => observation)."""

import json

import pytest

from prmkit.cli import main
from prmkit.data import Sample, read_jsonl


def _run(capsys, argv):
    assert main(argv + ["--no-progress"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out.splitlines()[-1])


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    return tmp_path_factory.mktemp("agent")


def test_turn_level_pipeline(pipeline, capsys):
    d = pipeline
    q, agent, samples = str(d / "q.jsonl"), str(d / "agent"), str(d / "s.jsonl")
    gen = ["world", "generate", "--world", "toolqa", "--n", "4", "--out", q]
    assert main(gen + ["--min-hops", "2", "--max-hops", "2"]) == 0
    _run(
        capsys,
        [
            "agent",
            "train",
            "--problems",
            q,
            "--out",
            agent,
            "--steps",
            "2",
            "--batch-size",
            "2",
            "--d-model",
            "32",
            "--n-layer",
            "1",
            "--eval-problems",
            "0",
            "--max-turns",
            "4",
        ],
    )
    s = _run(
        capsys,
        [
            "sample",
            "--policy",
            agent,
            "--problems",
            q,
            "--out",
            samples,
            "--n",
            "2",
            "--world",
            "toolqa",
            "--max-new-tokens",
            "64",
        ],
    )
    assert s["samples"] == 8
    rows = read_jsonl(samples, Sample.from_dict)
    assert all(r.turns and len(r.turns) == len(r.steps) <= 4 for r in rows)
    mc = str(d / "mc.jsonl")
    lab = _run(
        capsys,
        [
            "label",
            "--method",
            "mc",
            "--in",
            samples,
            "--out",
            mc,
            "--policy",
            agent,
            "--k",
            "2",
            "--max-new-tokens",
            "64",
        ],
    )
    assert lab["labeled"] == 8
    for r in read_jsonl(mc, Sample.from_dict):
        assert len(r.labels.soft) == len(r.steps)
    verify = str(d / "verify.jsonl")
    _run(capsys, ["label", "--method", "verify", "--in", samples, "--out", verify])
    prm = str(d / "prm")
    _run(
        capsys,
        [
            "prm",
            "train",
            "--data",
            mc,
            "--out",
            prm,
            "--steps",
            "2",
            "--batch-size",
            "4",
            "--d-model",
            "32",
            "--n-layer",
            "1",
            "--block-size",
            "384",
        ],
    )
    ev = _run(capsys, ["eval", "processbench", "--prm", prm, "--data", verify])
    assert ev["n_eval"] == 8 and 0 <= ev["acc_error"] <= 1  # all wrong: no F1 yet
    for method in ("bon", "weighted-vote", "beam"):
        out = str(d / f"{method}.jsonl")
        r = _run(
            capsys,
            [
                "search",
                "--method",
                method,
                "--policy",
                agent,
                "--problems",
                q,
                "--out",
                out,
                "--n",
                "4",
                "--prm",
                prm,
                "--world",
                "toolqa",
                "--max-new-tokens",
                "40",
                "--expand",
                "2",
                "--max-steps",
                "2",
                "--no-curve",
            ],
        )
        assert 0 <= r["accuracy"] <= 1 and r["tokens"] > 0


def test_rollout_budgets_default_to_the_worlds(pipeline, capsys, tmp_path):
    """label, search and rl give a toolqa episode 256 policy tokens unless told (96 would
    cut a 4-hop episode's actions), and an arithmetic solution 96."""
    from prmkit.commands.rl import Config as RLConfig
    from prmkit.search.core import SearchSettings

    assert SearchSettings(world="toolqa").max_new_tokens == 256
    assert SearchSettings().max_new_tokens == 96
    assert SearchSettings(world="toolqa", max_new_tokens=40).max_new_tokens == 40
    assert RLConfig(policy="p", out="o", world="toolqa").max_new_tokens == 256
    assert RLConfig(policy="p", out="o").max_new_tokens == 96
    d = pipeline
    out = str(tmp_path / "mc.jsonl")
    argv = ["label", "--method", "mc", "--in", str(d / "s.jsonl"), "--out", out]
    _run(capsys, argv + ["--policy", str(d / "agent"), "--k", "1"])
    provenance = [r.labels.provenance for r in read_jsonl(out, Sample.from_dict)]
    assert {p["max_new_tokens"] for p in provenance} == {256}
