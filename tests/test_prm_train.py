"""Step PRMs, ORMs and implicit PRMs: training, one-pass scoring, checkpoints."""

import json
import random

import pytest
import torch

from prmkit.data import InputError, Problem, Sample, StepLabels
from prmkit.grade import graded_sample
from prmkit.models.gpt import GPTConfig
from prmkit.prm import tagging
from prmkit.prm.implicit import ImplicitPRM
from prmkit.prm.models import BuiltinStepModel
from prmkit.prm.scoring import ModelScorer, load_prm, score_per_prefix
from prmkit.prm.train import TrainSettings, encode_for_training, train_implicit, train_step_model
from prmkit.worlds import arithmetic

TINY = GPTConfig(block_size=128, n_layer=1, n_head=2, d_model=32)


def make_samples(n: int, seed: int) -> list[Sample]:
    rng = random.Random(seed)
    out = []
    for p in arithmetic.generate(n, seed=seed):
        pr = Problem.from_dict(p)
        steps = (
            arithmetic.solve(pr.prompt)
            if rng.random() < 0.5
            else arithmetic.corrupt(pr.prompt, rng)[0]
        )
        out.append(graded_sample(pr, steps, pr.id + "-s0"))
    return out


@pytest.fixture(scope="module")
def samples():
    return make_samples(96, seed=3)


def _params(m):
    return [p.detach().clone() for p in m.parameters()]


def test_builtin_prm_trains_loss_falls_weights_change_and_scores_one_pass(samples, tmp_path):
    torch.manual_seed(0)
    m = BuiltinStepModel.new(TINY)
    before = _params(m)
    log = train_step_model(
        m, samples, TrainSettings(steps=40, batch_size=16, lr=3e-3, warmup=5), progress=False
    )
    assert log["loss_last"] < log["loss_first"] - 0.02
    assert all(not torch.equal(a, b) for a, b in zip(before, m.parameters()))
    items = [(s.prompt, s.steps) for s in samples[:20]]
    one = ModelScorer(m, max_tokens=500).score(items)
    ref = score_per_prefix(m, items, max_tokens=500)
    assert [len(x) for x in one] == [len(s) for _, s in items]
    assert torch.allclose(torch.tensor(sum(one, [])), torch.tensor(sum(ref, [])), atol=1e-5)
    # checkpoint round trip, through load_prm
    m.save(tmp_path / "prm")
    cfg = json.loads((tmp_path / "prm" / "config.json").read_text())
    assert cfg["kind"] == "prm" and (tmp_path / "prm" / "model.safetensors").exists()
    again = load_prm(str(tmp_path / "prm")).score(items)
    assert torch.allclose(torch.tensor(sum(one, [])), torch.tensor(sum(again, [])), atol=1e-6)


def test_soft_labels_are_the_targets(samples):
    m = BuiltinStepModel.new(TINY)
    s = samples[0]
    soft = [0.25 + 0.5 * (i % 2) for i in range(len(s.steps))]
    x = Sample(
        **{
            **s.__dict__,
            "labels": StepLabels(first_error=s.first_error, soft=soft, provenance={"method": "mc"}),
        }
    )
    (hard_ex,) = encode_for_training(m, [x], "hard")
    (soft_ex,) = encode_for_training(m, [x], "soft")
    assert [soft_ex.targets[p] for p in soft_ex.tag_positions] == soft
    want = [float(i < s.first_error or s.first_error < 0) for i in range(len(s.steps))]
    assert [hard_ex.targets[p] for p in hard_ex.tag_positions] == want
    before = _params(m)
    log = train_step_model(m, [x] * 8, TrainSettings(steps=5, batch_size=4), "soft", progress=False)
    assert log["loss_last"] < log["loss_first"]
    assert any(not torch.equal(a, b) for a, b in zip(before, m.parameters()))


def test_orm_supervises_only_the_final_step(samples):
    m = BuiltinStepModel.new(TINY, kind="orm")
    for s, ex in zip(samples, encode_for_training(m, samples, "hard")):
        sup = [i for i, t in enumerate(ex.targets) if t != tagging.IGNORE]
        assert sup == [ex.tag_positions[-1]]
        assert ex.targets[sup[0]] == float(s.correct)
    log = train_step_model(
        m, samples, TrainSettings(steps=25, batch_size=16, lr=3e-3, warmup=3), progress=False
    )
    assert log["loss_last"] < log["loss_first"]


def test_training_scoring_and_evaluation_all_call_the_one_tagging_function(
    samples, monkeypatch, tmp_path
):
    from prmkit.commands import eval_processbench

    calls = {"n": 0}
    real = tagging.tag_steps

    def spy(*a, **k):
        calls["n"] += 1
        return real(*a, **k)

    import prmkit.prm.models as models_mod

    monkeypatch.setattr(models_mod, "tag_steps", spy)
    m = BuiltinStepModel.new(TINY)
    train_step_model(m, samples[:8], TrainSettings(steps=1, batch_size=4), progress=False)
    assert calls["n"] == 8
    ModelScorer(m).score([(s.prompt, s.steps) for s in samples[:5]])
    assert calls["n"] == 13
    m.save(tmp_path / "p")
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(s.to_dict()) + "\n" for s in samples[:6]))
    eval_processbench.run(
        eval_processbench.Config(prm=str(tmp_path / "p"), data=str(data), threshold=0.5)
    )
    assert calls["n"] == 19


def test_wrong_kind_fails_clearly(tmp_path, tiny_policy):
    from prmkit.models.builtin import BuiltinPolicy

    with pytest.raises(
        InputError, match="kind 'policy', expected prm or orm or implicit-prm or rule"
    ):
        load_prm(str(tiny_policy))
    BuiltinStepModel.new(TINY).save(tmp_path / "prm")
    with pytest.raises(InputError, match="kind 'prm', expected policy"):
        BuiltinPolicy.load(tmp_path / "prm")
    with pytest.raises(InputError, match="no such checkpoint"):
        load_prm(str(tmp_path / "nothing"))


def test_rule_prm_loads_by_name_and_by_folder(tmp_path, samples):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text('{"kind": "rule", "world": "arithmetic"}')
    for prm in (load_prm("rule"), load_prm(str(tmp_path / "r"))):
        assert prm.kind == "rule"
        sc = prm.score([(s.prompt, s.steps) for s in samples[:10]])
        for s, x in zip(samples, sc):
            fe = s.first_error if s.first_error >= 0 else len(s.steps)
            assert x == [1.0 if i < fe else 0.0 for i in range(len(s.steps))]


def test_init_from_policy_copies_the_backbone(tiny_policy):
    from prmkit.models.builtin import BuiltinPolicy

    pol = BuiltinPolicy.load(tiny_policy)
    cfg = GPTConfig(**{**pol.model.cfg.to_dict(), "block_size": 200})
    m = BuiltinStepModel.new(cfg, init=str(tiny_policy))
    assert torch.equal(m.gpt.blocks[0].qkv.weight, pol.model.blocks[0].qkv.weight)
    assert torch.equal(m.gpt.pos.weight[:128], pol.model.pos.weight)
    with pytest.raises(InputError, match="must match"):
        BuiltinStepModel.new(TINY, init=str(tiny_policy))


def test_implicit_prm_trains_on_outcomes_only(tiny_policy, samples, tmp_path):
    torch.manual_seed(0)
    m = ImplicitPRM.from_policy(str(tiny_policy), beta=0.5)
    ref_before = [p.detach().clone() for p in m.ref.parameters()]
    phi_before = [p.detach().clone() for p in m.phi.parameters()]
    items = [(s.prompt, s.steps) for s in samples[:12]]
    # before training pi_phi == pi_ref: every reward is 0, every score 1/2
    assert torch.allclose(torch.tensor(sum(ModelScorer(m).score(items), [])), torch.tensor(0.5))
    log = train_implicit(
        m, samples, TrainSettings(steps=30, batch_size=16, lr=3e-3, warmup=3), progress=False
    )
    assert log["loss_last"] < log["loss_first"] - 0.02
    assert all(torch.equal(a, b) for a, b in zip(ref_before, m.ref.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(phi_before, m.phi.parameters()))
    one = ModelScorer(m).score(items)
    ref = score_per_prefix(m, items)
    assert torch.allclose(torch.tensor(sum(one, [])), torch.tensor(sum(ref, [])), atol=1e-5)
    m.save(tmp_path / "imp")
    assert json.loads((tmp_path / "imp" / "config.json").read_text())["kind"] == "implicit-prm"
    again = load_prm(str(tmp_path / "imp")).score(items)
    assert torch.allclose(torch.tensor(sum(one, [])), torch.tensor(sum(again, [])), atol=1e-6)


def test_implicit_prm_with_the_step_objective_learns_the_step_labels(tiny_policy, samples):
    """The implicit parameterization trained on step labels: q_k of wrong prefixes falls
    below q_k of right ones on the training data, and pi_ref stays frozen."""
    torch.manual_seed(0)
    m = ImplicitPRM.from_policy(str(tiny_policy), beta=1.0)
    ref_before = [p.detach().clone() for p in m.ref.parameters()]
    log = train_step_model(
        m, samples, TrainSettings(steps=60, batch_size=16, lr=5e-4, warmup=3), progress=False
    )
    assert log["loss_last"] < log["loss_first"] - 0.02
    assert all(torch.equal(a, b) for a, b in zip(ref_before, m.ref.parameters()))
    scores = ModelScorer(m).score([(s.prompt, s.steps) for s in samples])
    good = [
        x
        for s, sc in zip(samples, scores)
        for k, x in enumerate(sc)
        if s.first_error < 0 or k < s.first_error
    ]
    bad = [x for s, sc in zip(samples, scores) for k, x in enumerate(sc) if 0 <= s.first_error <= k]
    assert sum(good) / len(good) > sum(bad) / len(bad) + 0.05


def test_builtin_prm_tags_with_the_policy_separator_by_default():
    m = BuiltinStepModel.new(TINY)
    t = m.encode("Start with 1, then +1.", ["1+1=2", "Answer: 2"])
    assert [t.input_ids[i] for i in t.tag_positions] == [m.tok.encode("\n")[0]] * 2
    legacy = BuiltinStepModel.new(TINY, tag="<step>")
    t = legacy.encode("Start with 1, then +1.", ["1+1=2", "Answer: 2"])
    assert [t.input_ids[i] for i in t.tag_positions] == [legacy.tok.step_id] * 2


def test_too_long_solution_is_a_clear_error():
    m = BuiltinStepModel.new(TINY)
    with pytest.raises(ValueError, match="exceeds the PRM's limit of 128"):
        ModelScorer(m).score([("Start with 1, then +1.", ["1+1=2"] * 30)])


def test_prm_training_gives_the_same_weights_at_1_and_2_threads(samples):
    threads = torch.get_num_threads()
    states = []
    try:
        for t in (1, 2):
            torch.set_num_threads(t)
            torch.manual_seed(0)
            m = BuiltinStepModel.new(TINY)
            train_step_model(m, samples, TrainSettings(steps=4, batch_size=16), progress=False)
            states.append([p.detach().clone() for p in m.parameters()])
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(a, b) for a, b in zip(*states))


def test_a_step_model_trains_on_one_window_per_solution_unless_it_cuts_them(samples):
    m = BuiltinStepModel.new(GPTConfig(vocab_size=104, n_layer=1, n_head=2, d_model=16), "prm")
    s = samples[0]
    (one,) = m.windows(s.prompt, s.steps, [1.0] * len(s.steps))
    assert one == m.encode(s.prompt, s.steps, [1.0] * len(s.steps))
    assert len(encode_for_training(m, samples[:3])) == 3
