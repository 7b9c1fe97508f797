"""Agent stages from the CLI: sample's per-world token budget, `serve prm` on turns."""

import json
import random

import httpx
import pytest
from serve_fixtures import one_torch_thread  # noqa: F401 (autouse fixture)

from prmkit.cli import main
from prmkit.data import Sample, read_jsonl, write_jsonl
from prmkit.data.turns import split_step
from prmkit.models.builtin import BuiltinPolicy
from prmkit.models.gpt import GPTConfig
from prmkit.models.tokenizer import CharTokenizer
from prmkit.prm.base import load_scorer
from prmkit.serve.http import ThreadServer
from prmkit.serve.prm_server import create_app
from prmkit.worlds import toolqa as T


def _run(capsys, argv):
    assert main(argv + ["--no-progress"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out.splitlines()[-1])


@pytest.fixture(scope="module")
def questions(tmp_path_factory):
    d = tmp_path_factory.mktemp("agent_cli")
    q = d / "q.jsonl"
    assert main(["world", "generate", "--world", "toolqa", "--n", "3", "--out", str(q)]) == 0
    return d, q


def test_sample_budget_defaults_to_the_worlds(questions, capsys):
    d, q = questions
    agent = str(d / "agent")
    argv = ["agent", "train", "--problems", str(q), "--out", agent, "--steps", "1"]
    _run(capsys, argv + ["--batch-size", "2", "--d-model", "16", "--n-layer", "1"])
    run = ["sample", "--policy", agent, "--problems", str(q), "--world", "toolqa", "--n", "1"]
    s = _run(capsys, run + ["--out", str(d / "s.jsonl")])
    assert s["max_new_tokens"] == T.MAX_NEW_TOKENS == 256
    cut = _run(capsys, run + ["--out", str(d / "s96.jsonl"), "--max-new-tokens", "96"])
    assert cut["max_new_tokens"] == 96 and cut["tokens"] <= s["tokens"]
    plain = str(d / "plain")
    BuiltinPolicy.new(GPTConfig(CharTokenizer().vocab_size, 128, 1, 2, 16)).save(plain)
    arith = d / "a.jsonl"
    assert main(["world", "generate", "--n", "2", "--out", str(arith)]) == 0
    a = _run(
        capsys,
        ["sample", "--policy", plain, "--problems", str(arith), "--n", "1"]
        + ["--out", str(d / "sa.jsonl")],
    )
    assert a["max_new_tokens"] == 96


def test_agent_train_continues_a_checkpoint(questions, capsys):
    d, q = questions
    base = str(d / "base")
    argv = ["agent", "train", "--problems", str(q), "--batch-size", "2", "--eval-problems", "0"]
    _run(capsys, argv + ["--out", base, "--steps", "1", "--d-model", "16", "--n-layer", "1"])
    more = str(d / "more")
    s = _run(capsys, argv + ["--out", more, "--steps", "2", "--init", base, "--noop-rate", "1"])
    a, b = BuiltinPolicy.load(base), BuiltinPolicy.load(more)
    assert b.model.cfg == a.model.cfg  # the checkpoint's shape, not the flags' default (128)
    changed = [k for k, v in a.model.state_dict().items() if not v.equal(b.model.state_dict()[k])]
    assert changed and s["steps"] == 2
    assert b.meta["train"]["init"] == base and b.meta["train"]["noop_rate"] == 1
    assert main(argv + ["--out", str(d / "x"), "--init", str(d / "nothing")]) == 2
    assert "nothing: no such checkpoint directory" in capsys.readouterr().err


def _trajectories(path, questions):
    """The expert's trajectory and one with a controlled mistake, per question."""
    rng, out = random.Random(0), []
    for p in read_jsonl(questions, dict):
        for k, steps in enumerate([T.solve(p["prompt"]), T.corrupt(p["prompt"], rng)[0]]):
            turns = [split_step(s) for s in steps]
            out.append(
                Sample(
                    f"{p['id']}-{k}",
                    p["id"],
                    p["prompt"],
                    p["answer"],
                    steps,
                    meta={"world": "toolqa"},
                    turns=turns,
                )
            )
    write_jsonl(path, out)
    return out


def test_serve_prm_scores_a_trajectory_as_steps(questions, capsys):
    d, q = questions
    samples = _trajectories(d / "t.jsonl", q)
    _run(
        capsys,
        ["label", "--method", "verify", "--in", str(d / "t.jsonl"), "--out", str(d / "v.jsonl")],
    )
    prm = str(d / "prm")
    argv = ["prm", "train", "--data", str(d / "v.jsonl"), "--out", prm, "--steps", "2"]
    _run(
        capsys,
        argv + ["--batch-size", "4", "--d-model", "32", "--n-layer", "1", "--block-size", "384"],
    )
    scorer = load_scorer(prm)
    items = [(s.prompt, s.steps) for s in samples]
    local = scorer.score(items)
    assert all(len(x) == len(s.steps) for x, s in zip(local, samples))
    with ThreadServer(create_app(scorer)) as url, httpx.Client(base_url=url, timeout=60) as c:
        one = c.post("/score", json={"problem": items[1][0], "steps": items[1][1]}).json()
        assert one["scores"] == pytest.approx(local[1], abs=1e-5)
        batch = c.post(
            "/score", json={"items": [{"problem": p, "steps": s} for p, s in items]}
        ).json()
        for got, want in zip(batch["scores"], local):
            assert got == pytest.approx(want, abs=1e-5)
        # OpenRLHF's query form: the prompt and the trajectory's lines, one turn per line.
        queries = [p + "\n" + "\n".join(s) + "\n" for p, s in items]
        r = c.post("/get_reward", json={"query": queries}).json()
        assert len(r["rewards"]) == len(items)
    # A turn's score depends on its observation: the PRM reads action => observation.
    swapped = items[0][1][:1] + [items[0][1][1].split(" => ")[0] + " => error: no entity"]
    assert scorer.score([(items[0][0], swapped)])[0][1] != pytest.approx(local[0][1], abs=1e-7)
