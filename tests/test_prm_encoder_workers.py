"""Scoring an encoder PRM in worker processes (prmkit.prm.encoder_workers): the same
scores as one process, in order, through `EncoderScorer`, `load_prm` and `prmkit score`;
the workers kept across calls and forked again when the weights change; refused where
it cannot apply."""

import copy
import json

import pytest
import torch
from bert_tiny import build_tiny_bert
from test_prm_train import make_samples

from prmkit.data import read_jsonl, write_jsonl
from prmkit.prm.encoder import EncoderScorer, EncoderStepModel
from prmkit.prm.encoder_quant import quantize_encoder
from prmkit.prm.encoder_workers import WorkerPool, weights_key
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


class _Calc:
    """A pool owner whose answer depends on its state (`offset`)."""

    def __init__(self):
        self.offset = torch.zeros(())

    def square(self, x):
        return x * x + int(self.offset)

    def pid(self, _):
        import os

        return os.getpid()


def test_worker_pool_in_order_in_kept_processes():
    import os

    calc = _Calc()
    squares = WorkerPool(calc, "square", 2, key=weights_key_of)
    pids = WorkerPool(calc, "pid", 2, key=lambda c: 0)
    assert squares.map(list(range(7))) == [0, 1, 4, 9, 16, 25, 36]
    assert squares.map([]) == [] and squares.forks == 1  # kept
    first = set(pids.map([0] * 8)) | set(pids.map([0] * 8))
    assert os.getpid() not in first and 1 <= len(first) <= 2  # the same two processes
    assert pids.forks == 1
    calc.offset.add_(1)  # an in-place change: the kept workers hold the old state
    assert squares.map([2, 3]) == [5, 10] and squares.forks == 2
    pids.close()
    assert not set(pids.map([0] * 8)) & first and pids.forks == 2  # new processes
    squares.close()
    pids.close()
    with pytest.raises(ValueError, match="2 or more"):
        WorkerPool(calc, "square", 1)


def weights_key_of(calc):
    return (id(calc.offset), calc.offset._version)


def test_weights_key_sees_in_place_changes(prm):
    m = copy.deepcopy(prm)
    key = weights_key(m)
    assert key is not None and weights_key(m) == key
    with torch.no_grad():
        m.head.weight.add_(0.1)
    assert weights_key(m) != key
    key = weights_key(m)
    m.load_state_dict(prm.state_dict())
    assert weights_key(m) != key


def test_a_pool_ends_with_its_owner():
    import gc

    calc = _Calc()
    pool = WorkerPool(calc, "pid", 2)
    pool.map([0, 0])
    procs = list(pool._pool._pool)
    assert all(p.is_alive() for p in procs)
    del calc
    gc.collect()
    for p in procs:
        p.join(10)
    assert not any(p.is_alive() for p in procs)
    with pytest.raises(ValueError, match="no longer exists"):
        pool.map([0])


@pytest.mark.parametrize("mode", ["none", "int8"])
def test_workers_give_the_scores_of_one_process(prm, items, mode):
    m = quantize_encoder(copy.deepcopy(prm), mode)
    one = _one_thread(lambda: EncoderScorer(m, max_tokens=160).score(items))
    scorer = EncoderScorer(m, max_tokens=160, workers=2)
    two = scorer.score(items)
    again = scorer.score(items[::-1])  # the same workers
    again_one = _one_thread(lambda: EncoderScorer(m, max_tokens=160).score(items[::-1]))
    assert sum(len(s) for s in one) > 40 and len({round(x, 3) for s in one for x in s}) > 10
    assert two == one and scorer.pool.forks == 1
    assert again == again_one  # other batches (other padding): equal to float rounding
    assert sum(again, []) == pytest.approx(sum(one[::-1], []), abs=1e-5)
    scorer.close()


def test_kept_workers_score_the_weights_as_they_are(prm, items):
    """A PRM trained between calls (an optimizer step changes its weights in place):
    the next call forks new workers, so it scores with the new weights."""
    m = copy.deepcopy(prm)
    scorer = EncoderScorer(m, max_tokens=160, workers=2)
    before = scorer.score(items)
    opt = torch.optim.SGD(m.parameters(), lr=0.5)
    m.head.weight.grad = torch.ones_like(m.head.weight)
    opt.step()
    after = scorer.score(items)
    assert scorer.pool.forks == 2 and after != before
    assert after == _one_thread(lambda: EncoderScorer(m, max_tokens=160).score(items))
    scorer.close()


def test_workers_are_dealt_the_longest_passes_first(prm, items, monkeypatch):
    import prmkit.prm.encoder as encoder

    dealt = []

    def record(pool, passes):
        dealt.extend(max(len(t.input_ids) for t in p) for p in passes)  # longest row
        return [pool.owner().tagged_logits(p) for p in passes]

    monkeypatch.setattr(encoder.WorkerPool, "map", record)
    scores = EncoderScorer(prm, max_tokens=160, workers=2).score(items)
    assert len(dealt) > 3 and dealt == sorted(dealt, reverse=True) and dealt[0] > dealt[-1]
    assert scores == _one_thread(lambda: EncoderScorer(prm, max_tokens=160).score(items))


def test_a_small_call_is_cut_so_every_worker_scores(prm, items, monkeypatch):
    """A served batch of a few short solutions fits one pass of 2,048 tokens; with
    workers it is cut into one pass a worker, the scores unchanged to float rounding."""
    import prmkit.prm.encoder as encoder

    sizes = []

    def record(pool, passes):
        sizes.extend(len(p) for p in passes)
        return [pool.owner().tagged_logits(p) for p in passes]

    monkeypatch.setattr(encoder.WorkerPool, "map", record)
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
