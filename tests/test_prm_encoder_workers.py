"""Scoring an encoder PRM in worker processes (prmkit.prm.encoder_workers): the same
scores as one process, in order, through `EncoderScorer`, `load_prm` and `prmkit score`;
refused where it cannot apply."""

import copy
import json

import pytest
import torch
from bert_tiny import build_tiny_bert
from test_prm_train import make_samples

from prmkit.data import read_jsonl, write_jsonl
from prmkit.prm.encoder import EncoderScorer, EncoderStepModel
from prmkit.prm.encoder_quant import quantize_encoder
from prmkit.prm.encoder_workers import map_in_workers
from prmkit.prm.scoring import load_prm


@pytest.fixture(scope="module")
def prm(tmp_path_factory):
    torch.manual_seed(0)
    m = EncoderStepModel.from_pretrained(str(build_tiny_bert(tmp_path_factory.mktemp("b"))))
    torch.nn.init.normal_(m.head.weight, std=0.5)
    m.context = 4
    m.window = 40  # several windows per solution
    return m.eval()


@pytest.fixture(scope="module")
def samples():
    return make_samples(20, seed=11)


@pytest.fixture(scope="module")
def items(samples):
    return [(s.prompt, s.steps) for s in samples]


def _one_thread(fn):
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn()
    finally:
        torch.set_num_threads(n)


def _square(x):
    return x * x


def _pid(_):
    import os

    return os.getpid()


def test_map_in_workers_in_order_in_other_processes():
    import os

    assert map_in_workers(_square, list(range(7)), 2) == [0, 1, 4, 9, 16, 25, 36]
    assert map_in_workers(_square, [], 2) == []
    pids = set(map_in_workers(_pid, [0] * 8, 2))
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    with pytest.raises(ValueError, match="2 or more"):
        map_in_workers(_square, [1], 1)


@pytest.mark.parametrize("mode", ["none", "int8"])
def test_workers_give_the_scores_of_one_process(prm, items, mode):
    m = quantize_encoder(copy.deepcopy(prm), mode)
    one = _one_thread(lambda: EncoderScorer(m, max_tokens=160).score(items))
    scorer = EncoderScorer(m, max_tokens=160, workers=2)
    two = scorer.score(items)
    again = scorer.score(items[::-1])  # new workers for each call
    again_one = _one_thread(lambda: EncoderScorer(m, max_tokens=160).score(items[::-1]))
    assert sum(len(s) for s in one) > 40 and len({round(x, 3) for s in one for x in s}) > 10
    assert two == one
    assert again == again_one  # other batches (other padding): equal to float rounding
    assert sum(again, []) == pytest.approx(sum(one[::-1], []), abs=1e-5)


def test_workers_are_dealt_the_longest_passes_first(prm, items, monkeypatch):
    import prmkit.prm.encoder as encoder

    dealt = []

    def record(fn, passes, workers):
        dealt.extend(max(len(t.input_ids) for t in p) for p in passes)  # longest row
        return [fn(p) for p in passes]

    monkeypatch.setattr(encoder, "map_in_workers", record)
    scores = EncoderScorer(prm, max_tokens=160, workers=2).score(items)
    assert len(dealt) > 3 and dealt == sorted(dealt, reverse=True) and dealt[0] > dealt[-1]
    assert scores == _one_thread(lambda: EncoderScorer(prm, max_tokens=160).score(items))


def test_a_small_call_is_cut_so_every_worker_scores(prm, items, monkeypatch):
    """A served batch of a few short solutions fits one pass of 2,048 tokens; with
    workers it is cut into one pass a worker, the scores unchanged to float rounding."""
    import prmkit.prm.encoder as encoder

    sizes = []

    def record(fn, passes, workers):
        sizes.extend(len(p) for p in passes)
        return [fn(p) for p in passes]

    monkeypatch.setattr(encoder, "map_in_workers", record)
    few = items[:3]
    scores = EncoderScorer(prm, max_tokens=100_000, workers=2).score(few)
    windows = sum(len(prm.windows(p, list(s))) for p, s in few)
    assert windows >= 3 and len(sizes) == 2 and sum(sizes) == windows
    one = _one_thread(lambda: EncoderScorer(prm, max_tokens=100_000).score(few))
    assert sum(scores, []) == pytest.approx(sum(one, []), abs=1e-5)
    sizes.clear()
    EncoderScorer(prm, max_tokens=100_000, workers=2).score(items[:1])
    assert sizes and max(sizes) <= -(-len(prm.windows(*items[0])) // 2)


def test_workers_refused_where_they_cannot_apply(prm):
    with pytest.raises(ValueError, match=">= 1"):
        EncoderScorer(prm, workers=0)


def test_score_cli_workers(prm, samples, tmp_path, capsys):
    from prmkit.cli import main

    prm.save(tmp_path / "prm")
    write_jsonl(tmp_path / "in.jsonl", [s.to_dict() for s in samples[:8]])
    outs = {}
    for n in (1, 2):
        out = tmp_path / f"w{n}.jsonl"
        args = ["score", "--prm", str(tmp_path / "prm"), "--in", str(tmp_path / "in.jsonl")]
        assert main(args + ["--out", str(out), "--workers", str(n)]) in (0, None)
        json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        outs[n] = [r["meta"]["prm_scores"] for r in read_jsonl(out)]
    assert sum(outs[1], []) == pytest.approx(sum(outs[2], []), abs=1e-6)
    assert load_prm(str(tmp_path / "prm"), workers=2).workers == 2
    args = ["score", "--prm", "rule", "--in", str(tmp_path / "in.jsonl")]
    assert main(args + ["--out", str(tmp_path / "r.jsonl"), "--workers", "2"]) == 2
    assert "--workers 2 applies to encoder PRMs only" in capsys.readouterr().err


def test_pass_size_follows_the_threads(prm):
    n = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert EncoderScorer(prm).max_tokens == 2048  # one thread: small passes
        torch.set_num_threads(2)
        assert EncoderScorer(prm).max_tokens == 16384  # threads share every operator
        assert EncoderScorer(prm, workers=2).max_tokens == 2048  # one-thread workers
        assert EncoderScorer(prm, max_tokens=500, workers=2).max_tokens == 500
    finally:
        torch.set_num_threads(n)


def test_search_rerank_with_prm_workers_and_quantize(prm, samples, tmp_path, capsys):
    """`search --in --prm-workers 2` picks as one process does; --prm-quantize int8 loads
    the int8 PRM; both are refused for a rule PRM rather than ignored."""
    from prmkit.cli import main

    prm.save(tmp_path / "prm")
    write_jsonl(tmp_path / "in.jsonl", [s.to_dict() for s in samples])
    picks = {}
    for extra in (["--prm-workers", "1"], ["--prm-workers", "2"], ["--prm-quantize", "int8"]):
        out = tmp_path / f"o{'_'.join(extra)}.jsonl"
        args = ["search", "--in", str(tmp_path / "in.jsonl"), "--method", "bon", "--n", "4"]
        assert main([*args, "--prm", str(tmp_path / "prm"), "--out", str(out), *extra]) == 0
        capsys.readouterr()
        picks[extra[-1]] = [(r["problem_id"], r["score"]) for r in read_jsonl(out)]
    assert [p for p, _ in picks["1"]] == [p for p, _ in picks["2"]]
    assert [s for _, s in picks["1"]] == pytest.approx([s for _, s in picks["2"]], abs=1e-6)
    assert [s for _, s in picks["int8"]] != [s for _, s in picks["1"]]  # int8 scores differ
    args = ["search", "--in", str(tmp_path / "in.jsonl"), "--method", "bon", "--prm", "rule"]
    assert main([*args, "--out", str(tmp_path / "r.jsonl"), "--prm-workers", "2"]) == 2
    assert "--workers 2 applies to encoder PRMs only" in capsys.readouterr().err


def test_rl_passes_prm_workers_and_quantize_to_the_loader(monkeypatch):
    import prmkit.prm.options as options
    from prmkit.commands.rl import Config

    seen = {}
    monkeypatch.setattr(options, "load_scorer", lambda *a, **kw: seen.update(a=a, kw=kw))
    cfg = Config(policy="p", out="o", prm="enc", prm_workers=2, prm_quantize="int8")
    cfg.load_prm(cfg.prm, cfg.world)
    assert seen["a"][0] == "enc" and seen["a"][-1] == "int8" and seen["kw"] == {"workers": 2}


def test_bfloat16_scores_near_float32_in_workers(prm, items, tmp_path):
    """`--dtype bfloat16` on CPU: the encoder runs in bfloat16 (the tag pass included,
    in workers too) and its scores stay near fp32's."""
    prm.save(tmp_path / "prm")
    fp32 = load_prm(str(tmp_path / "prm")).score(items)
    bf16 = load_prm(str(tmp_path / "prm"), dtype="bfloat16", workers=2)
    assert next(bf16.model.encoder.parameters()).dtype == torch.bfloat16
    got = bf16.score(items)
    assert [len(s) for s in got] == [len(s) for s in fp32]
    assert sum(got, []) == pytest.approx(sum(fp32, []), abs=0.05)
    assert sum(got, []) != sum(fp32, [])
