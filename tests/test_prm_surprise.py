"""`prmkit prm surprise`: a PRM stacked with the policy's log-probabilities of each action
(observations are context), fitted on labels, loaded wherever a PRM is."""

import json
import random

import pytest
import torch
from conftest import last_json, run_cli

from prmkit.data import InputError, Sample, split_step, write_jsonl
from prmkit.models.builtin import BuiltinPolicy
from prmkit.models.gpt import GPTConfig
from prmkit.models.tokenizer import CharTokenizer
from prmkit.prm import load_scorer
from prmkit.prm import surprise as S
from prmkit.worlds import toolqa

PROMPT = "kb 7. From Xa give the age plus 2."
STEPS = ["search[Xa] => P2 Xa", "get[P2, age] => 41", "calc[41+2] => 43", "answer[43] => done"]


def tiny_policy(block: int = 256, seed: int = 0) -> BuiltinPolicy:
    torch.manual_seed(seed)
    cfg = GPTConfig(CharTokenizer().vocab_size, block, n_layer=1, n_head=2, d_model=16)
    return BuiltinPolicy.new(cfg)


def char_logprobs(policy: BuiltinPolicy, text: str) -> torch.Tensor:
    """log p(char i | chars < i) of every char of `text`, after <bos>: (len(text),)"""
    ids = torch.tensor([[policy.tok.bos_id] + policy.tok.encode(text)])
    with torch.no_grad():
        lp = torch.log_softmax(policy.model(ids).float(), -1)
    return lp[0, :-1].gather(-1, ids[0, 1:, None])[:, 0]


def test_features_are_the_policys_logprobs_of_the_actions_only():
    pol = tiny_policy()
    (feats,) = S.surprise_features(pol.model, pol.tok, [(PROMPT, STEPS)])
    text, spans = S.action_spans(PROMPT, STEPS)
    lp = char_logprobs(pol, text)
    for (a, b), (mn, sm) in zip(spans, feats):
        assert abs(lp[a:b].min().item() - mn) < 1e-5 and abs(lp[a:b].sum().item() - sm) < 1e-4
    # an observation is context: it moves the next action's surprise, never its own
    other = [*STEPS[:1], "get[P2, age] => 97", *STEPS[2:]]
    (moved,) = S.surprise_features(pol.model, pol.tok, [(PROMPT, other)])
    assert moved[:2] == feats[:2] and moved[2] != feats[2]


def test_a_step_solution_is_all_action():
    text, spans = S.action_spans("1+2*3", ["2*3=6", "1+6=7"])
    assert text == "1+2*3\n2*3=6\n1+6=7\n" and spans == [(6, 11), (12, 17)]


def test_a_solution_longer_than_the_policy_reads_each_step_with_the_turns_that_fit():
    pol = tiny_policy(block=64)
    steps = [f"get[P{i}, age] => {10 + i}" for i in range(6)]
    (feats,) = S.surprise_features(pol.model, pol.tok, [(PROMPT, steps)])
    for k in range(len(steps)):
        j = 0  # the most turns before step k that fit with the prompt
        while j < k and len(S.action_spans(PROMPT, steps[j : k + 1])[0]) + 1 > 64:
            j += 1
        (short,) = S.surprise_features(pol.model, pol.tok, [(PROMPT, steps[j : k + 1])])
        assert feats[k] == short[-1]


def test_combine_and_design_by_hand():
    x = S.design([0.5, 0.8], [(-1.0, -2.0), (-0.5, -0.5)])
    assert torch.allclose(x[:, 0], torch.tensor([0.0, 1.3862944], dtype=torch.float64))
    z = S.combine(x, torch.tensor([2.0, 1.0, 0.5, -0.25], dtype=torch.float64))
    assert torch.allclose(z, torch.tensor([-2.25, 1.7725887], dtype=torch.float64))


def test_fit_learns_the_surprise_when_the_labels_follow_it():
    g = torch.Generator().manual_seed(0)
    x = torch.stack([torch.randn(400, generator=g), -torch.rand(400, generator=g) * 6], 1)
    x = torch.cat([x, x[:, 1:] * 2], 1)  # sum of log-probs, here twice the min
    y = (x[:, 1] > -3).double()  # right exactly when the policy was not surprised
    w, losses = S.fit(x, y)
    assert losses["logloss_fit"] < 0.2 < losses["logloss_prm"]
    assert w[1] + 2 * w[2] > 1  # the surprise, not the uninformative PRM logit, carries it


def toolqa_samples(n: int, seed: int = 0) -> list[Sample]:
    rng, out = random.Random(seed), []
    for i, p in enumerate(toolqa.generate(n, seed=seed)):
        steps = toolqa.solve(p["prompt"]) if i % 2 else toolqa.corrupt(p["prompt"], rng)[0]
        g = toolqa.grade(p["prompt"], p["answer"], steps)
        turns = [split_step(s) for s in steps]
        args = (f"s{i}", p["id"], p["prompt"], p["answer"], steps)
        out.append(Sample(*args, correct=g.correct, first_error=g.first_error, turns=turns))
    return out


def fitted(tmp_path, capsys):
    data = tmp_path / "episodes.jsonl"
    write_jsonl(data, toolqa_samples(12))
    base = tmp_path / "base"
    tiny = ["--d-model", "32", "--n-layer", "1", "--n-head", "2", "--block-size", "512"]
    args = ["prm", "train", "--data", data, "--out", base, "--steps", "2", "--no-progress"]
    assert run_cli([*args, *tiny], capsys)[0] == 0
    tiny_policy().save(tmp_path / "policy")
    out = tmp_path / "models" / "sur"
    args = ["prm", "surprise", "--prm", base, "--policy", tmp_path / "policy", "--data", data]
    code, stdout, err = run_cli([*args, "--out", out, "--no-progress"], capsys)
    assert code == 0, err
    return data, base, out, last_json(stdout)


def test_cli_fits_saves_relative_paths_and_scores_as_the_weights_say(tmp_path, capsys):
    data, base, out, summary = fitted(tmp_path, capsys)
    assert summary["label_source"] == "exact" and summary["steps"] > 12
    assert summary["logloss_fit"] <= summary["logloss_prm"]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["kind"] == "surprise" and cfg["prm"] == "../../base"
    items = [(s.prompt, s.steps) for s in toolqa_samples(6, seed=3)]
    got = load_scorer(str(out)).score(items)
    pol = BuiltinPolicy.load(tmp_path / "policy")
    feats = S.surprise_features(pol.model, pol.tok, items)
    w = torch.tensor([cfg["weights"][k] for k in S.WEIGHTS], dtype=torch.float64)
    for p, f, g in zip(load_scorer(str(base)).score(items), feats, got):
        assert torch.allclose(torch.sigmoid(S.combine(S.design(p, f), w)), torch.tensor(g).double())
    code, stdout, err = run_cli(["eval", "processbench", "--prm", out, "--data", data], capsys)
    assert code == 0 and last_json(stdout)["kind"] == "surprise", err
    # search counts what both read: the base PRM's tokens and the policy's characters
    from prmkit.search.core import _chars, prm_input_tokens

    base_tokens = prm_input_tokens(load_scorer(str(base)), items)
    want = [t + _chars(p, s) for t, (p, s) in zip(base_tokens, items)]
    assert prm_input_tokens(load_scorer(str(out)), items) == want
    # --quantize and --workers go to the base PRM, which answers for itself
    with pytest.raises(InputError, match="encoder PRMs only") as e:
        load_scorer(str(out), quantize="int8")
    assert e.value.path.endswith("base")  # the base PRM's folder refuses it


def test_bad_inputs_exit_2_naming_the_file(tmp_path, capsys):
    data, base, out, _ = fitted(tmp_path, capsys)
    args = ["prm", "surprise", "--data", data, "--out", tmp_path / "o", "--no-progress"]
    code, _, err = run_cli([*args, "--prm", base, "--policy", base], capsys)
    assert code == 2 and "built-in policy checkpoint" in err and str(base) in err
    code, _, err = run_cli([*args, "--prm", "rule", "--policy", tmp_path / "policy"], capsys)
    assert code == 2 and "--prm must be a PRM's folder" in err
    unlabelled = tmp_path / "unlabelled.jsonl"
    write_jsonl(unlabelled, [Sample("u", "p", PROMPT, "43", STEPS)])  # no labels, no grade
    policy = ["--prm", base, "--policy", tmp_path / "policy"]
    code, _, err = run_cli([*args[:2], "--data", unlabelled, *args[4:], *policy], capsys)
    assert code == 2 and f"{unlabelled}: sample u has neither labels" in err
    accented = tmp_path / "accented.jsonl"
    q = toolqa.generate(1, seed=0)[0]
    steps = [*toolqa.solve(q["prompt"])[:-1], "answer[\u00e9] => done"]
    write_jsonl(accented, [Sample("a", "p", q["prompt"], q["answer"], steps, first_error=0)])
    rule = tmp_path / "rule"  # a base PRM that reads any text: the policy is what refuses it
    rule.mkdir()
    (rule / "config.json").write_text(json.dumps({"kind": "rule", "world": "toolqa"}))
    policy[1] = rule
    code, _, err = run_cli([*args[:2], "--data", accented, *args[4:], *policy], capsys)
    assert code == 2 and f"{accented}: character" in err
    cfg = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({k: v for k, v in cfg.items() if k != "weights"}))
    code, _, err = run_cli(["score", "--prm", out, "--in", data, "--out", tmp_path / "s"], capsys)
    assert code == 2 and f"{out / 'config.json'}: a surprise PRM needs" in err


def test_rerank_likelihood_picks_each_problems_likeliest_sample(tmp_path, capsys):
    import subprocess
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "rerank_likelihood.py"
    sys.path.insert(0, str(bench.parent))
    from rerank_likelihood import likeliest

    samples = toolqa_samples(4)  # s0, s2 corrupted; s1, s3 right
    assert [s.correct for s in samples] == [False, True, False, True]
    for s in samples:
        s.problem_id = "p" + str(int(s.id[1:]) // 2)  # p0: s0, s1; p1: s2, s3
    feats = [[(-1.0, -5.0)], [(-1.0, -1.0)], [(-1.0, -0.5)], [(-1.0, -9.0)]]
    assert likeliest(samples, feats) == {"p0": True, "p1": False}
    tiny_policy().save(tmp_path / "policy")
    write_jsonl(tmp_path / "s.jsonl", samples)
    args = [sys.executable, bench, "--policy", tmp_path / "policy", "--in", tmp_path / "s.jsonl"]
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0 and summary["problems"] == 2 and summary["oracle"] == 1.0
