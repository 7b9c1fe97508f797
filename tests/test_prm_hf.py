"""Hugging Face backends (token classification, causal LM reward tokens, implicit PRM)
on a tiny model built in the test, and the TRL peer check."""

import inspect
import json

import pytest
import torch
from hf_tiny import build_tiny_hf
from test_prm_tagging import corpus
from test_prm_train import make_samples

from prmkit.prm.implicit import ImplicitPRM
from prmkit.prm.models import HFStepModel
from prmkit.prm.scoring import ModelScorer, load_prm, score_per_prefix
from prmkit.prm.tagging import StepFormat, trl_row
from prmkit.prm.train import TrainSettings, train_implicit, train_step_model


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    """A tiny Llama and a fast tokenizer (BPE trained here), saved as a local HF folder."""
    return build_tiny_hf(tmp_path_factory.mktemp("hf"), corpus())


@pytest.fixture(scope="module")
def samples():
    return make_samples(64, seed=5)


@pytest.mark.parametrize("head", ["tokcls", "lm"])
def test_hf_step_prm_trains_and_scores_one_pass(hf_dir, samples, head, tmp_path):
    torch.manual_seed(0)
    m = HFStepModel.from_pretrained(
        str(hf_dir), head, StepFormat(tag=" ки" if head == "lm" else "\n")
    )
    before = [p.detach().clone() for p in m.parameters()]
    log = train_step_model(
        m, samples, TrainSettings(steps=25, batch_size=16, lr=3e-3, warmup=3), progress=False
    )
    assert log["loss_last"] < log["loss_first"] - 0.02
    assert sum(not torch.equal(a, b) for a, b in zip(before, m.parameters())) >= len(before) - 1
    items = [(s.prompt, s.steps) for s in samples[:12]]
    one = ModelScorer(m).score(items)
    ref = score_per_prefix(m, items)
    assert torch.allclose(torch.tensor(sum(one, [])), torch.tensor(sum(ref, [])), atol=1e-5)
    m.save(tmp_path / "prm")
    cfg = json.loads((tmp_path / "prm" / "config.json").read_text())
    assert cfg["kind"] == "prm" and cfg["head"] == head
    assert (tmp_path / "prm" / "model" / "model.safetensors").exists()
    again = load_prm(str(tmp_path / "prm")).score(items)
    assert torch.allclose(torch.tensor(sum(one, [])), torch.tensor(sum(again, [])), atol=1e-5)


def test_lm_head_reads_only_two_reward_logits(hf_dir, samples):
    m = HFStepModel.from_pretrained(str(hf_dir), "lm", StepFormat(tag="\n")).eval()
    from prmkit.prm.tagging import collate

    b = collate([m.encode(s.prompt, s.steps) for s in samples[:4]], m.pad_id)
    full = m.model(input_ids=b.ids, attention_mask=b.mask.long()).logits[b.tags]  # (N, V)
    want = full[:, m.good_id] - full[:, m.bad_id]
    assert torch.allclose(m.step_logits(b), want, atol=1e-5)


def test_hf_implicit_prm(hf_dir, samples, tmp_path):
    torch.manual_seed(0)
    m = ImplicitPRM.from_policy(str(hf_dir), beta=0.5)
    log = train_implicit(
        m, samples, TrainSettings(steps=15, batch_size=16, lr=3e-3, warmup=3), progress=False
    )
    assert log["loss_last"] < log["loss_first"]
    items = [(s.prompt, s.steps) for s in samples[:8]]
    one = ModelScorer(m).score(items)
    m.save(tmp_path / "imp")
    again = load_prm(str(tmp_path / "imp")).score(items)
    assert torch.allclose(torch.tensor(sum(one, [])), torch.tensor(sum(again, [])), atol=1e-5)


def _trl_tokenize_row():
    trl = pytest.importorskip(
        "trl",
        reason="TRL is not installed: pip install 'trl>=0.13,<1.14' (the releases with"
        " PRMTrainer) to run the TRL peer check",
    )
    try:
        from trl.experimental.prm import PRMTrainer  # trl >= 0.29
    except ImportError:
        try:
            from trl import PRMTrainer  # trl 0.13 .. 0.28
        except ImportError:
            pytest.skip(f"trl {trl.__version__} has no PRMTrainer (it exists in 0.13 .. 1.13)")
    return PRMTrainer.tokenize_row


def _call_trl(fn, features, tok, sep, last_only):
    kw = {
        "features": features,
        "tokenizer": tok,
        "step_separator": sep,
        "max_length": None,
        "max_prompt_length": None,
        "max_completion_length": None,
        "train_on_last_step_only": last_only,
        "is_eval": False,
    }
    return fn(**{k: v for k, v in kw.items() if k in inspect.signature(fn).parameters})


@pytest.mark.parametrize("sep", ["\n", " ки", "\n\n"])
def test_trl_peer_tokenize_row_is_our_training_example(hf_dir, samples, sep):
    import os

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    tokenize_row = _trl_tokenize_row()
    from transformers import AutoTokenizer

    from prmkit.data.formats import to_trl

    tok = AutoTokenizer.from_pretrained(str(hf_dir), local_files_only=True)
    records = [to_trl(s) for s in samples[:20]]
    records.append(
        {
            "prompt": "Which is larger, 9.8 or 9.11?",
            "completions": ["11 > 8.\n", " so 9.11 > 9.8."],
            "labels": [True, False],
        }
    )
    for r in records:
        for last_only in (False, True):
            theirs = _call_trl(tokenize_row, r, tok, sep, last_only)
            ours = trl_row(tok, r["prompt"], r["completions"], r["labels"], sep, last_only)
            assert ours == {
                "input_ids": list(theirs["input_ids"]),
                "labels": list(theirs["labels"]),
            }
