"""Property tests of the one tagging function over several tokenizers."""

import random

import pytest
import torch
from hf_tiny import build_tiny_hf

from prmkit.models.tokenizer import CharTokenizer
from prmkit.prm.tagging import (
    IGNORE,
    StepFormat,
    Tagged,
    collate,
    encoder,
    length_buckets,
    tag_steps,
)
from prmkit.worlds import arithmetic

WORDS = [
    "the",
    "sum",
    "is",
    "Step",
    "so",
    "ки",
    "+",
    "-",
    "=",
    "12",
    "7*3",
    "x",
    "  ",
    "\n",
    ".",
    ",",
    "Answer:",
    "ab",
]


def corpus() -> list[str]:
    texts = []
    for p in arithmetic.generate(300, seed=1):
        texts.append(p["prompt"] + "\n" + "\n".join(arithmetic.solve(p["prompt"])) + "\n")
        texts.append(" ки\n".join(arithmetic.solve(p["prompt"])) + " ки\n")
    return texts


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    return build_tiny_hf(tmp_path_factory.mktemp("hf"), corpus())


@pytest.fixture(scope="module")
def bpe(hf_dir):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(hf_dir / "tokenizer.json"))


@pytest.fixture(scope="module")
def hf_fast(hf_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(hf_dir), local_files_only=True)


def _cases(rng: random.Random, ascii_only: bool, n: int = 150, free_text: float = 0.5):
    """(prompt, steps, labels): arithmetic solutions, right or corrupted, a `free_text`
    share of them replaced by free text."""
    for p in arithmetic.generate(n, seed=rng.randrange(10**6)):
        prompt = p["prompt"]
        steps = (
            arithmetic.solve(prompt) if rng.random() < 0.5 else arithmetic.corrupt(prompt, rng)[0]
        )
        if rng.random() < free_text:  # free text, with separators, tags and spaces inside steps
            words = [w for w in WORDS if not ascii_only or w.isascii()]
            steps = [
                " ".join(rng.choice(words) for _ in range(rng.randrange(0, 6)))
                for _ in range(rng.randrange(1, 7))
            ]
        labels = [rng.choice([True, False, 0.25, 0.8, None]) for _ in steps]
        yield prompt, steps, labels


def _decode(tok, ids):
    if isinstance(tok, CharTokenizer):
        return tok.decode(ids)
    return tok.decode(ids)


FORMATS = {
    "char": [
        StepFormat(tag=None, tag_ids=[CharTokenizer.step_id]),
        StepFormat(tag="\n"),
        StepFormat(tag=" Step end.", prompt_sep=""),
    ],
    "bpe": [
        StepFormat(tag="\n"),
        StepFormat(tag=" ки"),
        StepFormat(tag="\n\n", prompt_sep="", bos=False),
    ],
    "hf": [
        StepFormat(tag="\n"),
        StepFormat(tag=" ки", prompt_sep=""),
        StepFormat(tag="<s>", prompt_sep="\n"),
    ],
}


@pytest.mark.parametrize("name", ["char", "bpe", "hf"])
def test_every_label_on_its_own_steps_tag_and_nothing_else(name, bpe, hf_fast):
    tok = {"char": CharTokenizer(), "bpe": bpe, "hf": hf_fast}[name]
    enc, bos = encoder(tok)
    rng = random.Random(0)
    n = 0
    for fmt in FORMATS[name]:
        tag = fmt.tag_ids if fmt.tag_ids is not None else enc(fmt.tag)
        for prompt, steps, labels in _cases(rng, ascii_only=name == "char"):
            t = tag_steps(tok, prompt, steps, fmt, labels)
            assert len(t.input_ids) == len(t.targets) == len(t.step_of)
            assert len(t.tag_positions) == len(steps)
            assert t.tag_positions == sorted(set(t.tag_positions))
            supervised = {i for i, x in enumerate(t.targets) if x != IGNORE}
            assert supervised == {p for p, lab in zip(t.tag_positions, labels) if lab is not None}
            start = (
                (1 if fmt.bos and bos is not None else 0)
                + len(enc(prompt))
                + len(enc(fmt.prompt_sep) if fmt.prompt_sep else [])
            )
            assert all(s == -1 for s in t.step_of[:start])
            for i, (pos, lab) in enumerate(zip(t.tag_positions, labels)):
                if lab is not None:
                    assert t.targets[pos] == float(lab)
                # the tag tokens end at pos and belong to step i, as do the step's own tokens
                assert t.input_ids[pos - len(tag) + 1 : pos + 1] == list(tag)
                own = [j for j, s in enumerate(t.step_of) if s == i]
                assert own == list(range(own[0], pos + 1)) and own[0] == start
                assert (
                    _decode(tok, t.input_ids[own[0] : pos + 1 - len(tag)]).strip()
                    == steps[i].strip()
                )
                start = pos + 1
            assert start == len(t.input_ids)
            # a prefix of the steps tokenizes to a prefix of the ids: one pass == per prefix
            k = rng.randrange(1, len(steps) + 1)
            assert (
                tag_steps(tok, prompt, steps[:k], fmt).input_ids
                == t.input_ids[: t.tag_positions[k - 1] + 1]
            )
            n += 1
    assert n >= 300


def test_tags_never_merge_with_neighbouring_text(bpe):
    # "\n" inside BPE merges with neighbours when the text is encoded whole; encoded on
    # its own it is always the same ids, whatever the step ends with.
    fmt = StepFormat(tag="\n")
    enc, _ = encoder(bpe)
    for steps in (["7+5=12", "Answer: 12"], ["a\n", "b \n\n"], ["x ки", ""]):
        t = tag_steps(bpe, "Start with 7, then +5.", steps, fmt, [1.0] * len(steps))
        for p in t.tag_positions:
            assert t.input_ids[p - len(enc("\n")) + 1 : p + 1] == enc("\n")


def test_label_count_must_match():
    with pytest.raises(ValueError, match="2 labels for 1 steps"):
        tag_steps(CharTokenizer(), "p", ["a"], StepFormat(), [True, False])


def test_collate_right_pads_and_marks_tags():
    tok = CharTokenizer()
    fmt = StepFormat(tag=None, tag_ids=[tok.step_id])
    a = tag_steps(tok, "ab", ["c", "de"], fmt, [1.0, 0.0])
    b = tag_steps(tok, "a", ["c"], fmt, [None])
    batch = collate([a, b], tok.pad_id)
    assert batch.ids.shape == (2, len(a.input_ids))
    assert batch.tags.sum().item() == 3
    assert batch.ids[1, len(b.input_ids) :].eq(tok.pad_id).all()
    assert batch.targets[batch.tags].tolist() == [1.0, 0.0, IGNORE]
    assert torch.equal(batch.mask.sum(1), torch.tensor([len(a.input_ids), len(b.input_ids)]))
    # tag_at / tag_valid list the same tags, row by row, as the (B, T) tag mask.
    assert batch.tag_at.tolist() == [a.tag_positions, [b.tag_positions[0], 0]]
    assert batch.tag_valid.tolist() == [[True, True], [True, False]]
    assert batch.tag_at.shape == batch.tag_valid.shape == (2, 2)
    # A hand-built example without targets or step_of: IGNORE and -1 throughout.
    c = Tagged(input_ids=[5, 6, 7], tag_positions=[2])
    batch = collate([c, b], tok.pad_id)
    assert batch.ids[0].tolist()[:3] == [5, 6, 7] and batch.tags[0].tolist()[:3] == [0, 0, 1]
    assert batch.targets[0].eq(IGNORE).all() and batch.step_of[0].eq(-1).all()
    assert batch.step_of[1, : len(b.input_ids)].tolist() == b.step_of


def test_last_layer_at_tags_equals_full_forward():
    """The built-in PRM runs its last layer only at the tags (GPT.hidden_at): same
    logits as the full forward read at the tags, across rows of different lengths and
    numbers of steps, and a model of one layer."""
    from prmkit.models.gpt import GPTConfig
    from prmkit.prm.models import BuiltinStepModel

    items = [(p, s) for p, s, _ in _cases(random.Random(3), True, n=12, free_text=0.0)]
    for n_layer in (1, 3):
        torch.manual_seed(n_layer)
        cfg = GPTConfig(
            vocab_size=CharTokenizer().vocab_size, n_layer=n_layer, n_head=2, d_model=16
        )
        m = BuiltinStepModel.new(cfg, tag=None).eval()
        batch = collate([m.encode(p, s) for p, s in items], m.pad_id)
        assert len(set(batch.mask.sum(1).tolist())) > 1 and len(set(batch.tags.sum(1).tolist())) > 1
        with torch.no_grad():
            w = m.gpt.tok.weight
            want = m.gpt.hidden(batch.ids)[batch.tags] @ (w[m.tok.good_id] - w[m.tok.bad_id])
            got = m.step_logits(batch) - m.bias
        assert got.shape == want.shape == (int(batch.tags.sum()),)
        assert torch.allclose(got, want, atol=1e-5)


def test_length_buckets_cover_each_index_once_and_respect_limits():
    rng = random.Random(0)
    lengths = [rng.randrange(5, 100) for _ in range(500)]
    buckets = length_buckets(lengths, max_tokens=1000, max_batch=32)
    flat = sorted(i for b in buckets for i in b)
    assert flat == list(range(500))
    for b in buckets:
        assert len(b) <= 32 and (len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 1000)


def test_hf_encoder_is_quiet_about_long_texts(tmp_path, caplog):
    """A text longer than the model's positions is windowed later: no transformers warning."""
    from bert_tiny import build_tiny_bert
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    tok = AutoTokenizer.from_pretrained(build_tiny_bert(tmp_path / "bert", max_positions=16))
    encode, _ = encoder(tok)
    hf_logging.enable_propagation()
    try:
        ids = encode("one two three four " * 20)
    finally:
        hf_logging.disable_propagation()
    assert len(ids) > tok.model_max_length
    assert "longer than the specified maximum" not in caplog.text
