"""int8 scoring of encoder PRMs (prmkit.prm.encoder_quant) on a tiny BERT built in the
test: smoothing by hand, the quantized Linear against fp32, the whole PRM's scores
against fp32, and `--quantize int8` through `prmkit score`."""

import json

import pytest
import torch
from bert_tiny import build_tiny_bert
from test_prm_train import make_samples

from prmkit.data import read_jsonl, write_jsonl
from prmkit.prm.encoder import EncoderScorer, EncoderStepModel
from prmkit.prm.encoder_quant import (
    RowLengths,
    SmoothInt8Linear,
    quantize_encoder,
    smoothing,
)
from prmkit.prm.scoring import load_prm

# Tolerance on probabilities. int8 keeps 8 bits of each activation and weight, so every
# quantized matmul adds a relative error of order 2^-8 to 2^-7; 3 layers of 4 matmuls
# compound it to a few percent of a logit's size. The test PRM's logits are of order 1
# (head std 0.5), so its probabilities may move by about 0.01; 0.03 leaves room for that
# and still fails a wrong quantization (a swapped channel or a lost smoothing factor
# moves scores by 0.1 or more).
PROB_TOL = 0.03


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    return build_tiny_bert(tmp_path_factory.mktemp("bert"))


@pytest.fixture(scope="module")
def samples():
    return make_samples(24, seed=3)


def _prm(bert_dir) -> EncoderStepModel:
    torch.manual_seed(0)
    m = EncoderStepModel.from_pretrained(str(bert_dir), context=4)
    torch.nn.init.normal_(m.head.weight, std=0.5)
    return m.eval()


def _flat(x):
    return torch.tensor(sum(x, []))


def test_smoothing_by_hand():
    x_absmax = torch.tensor([16.0, 1.0, 4.0])
    w = torch.tensor([[1.0, -4.0, 0.5], [-0.25, 2.0, 1.0]])  # column maxima 1, 4, 1
    # s_j = sqrt(max|x_j|) / sqrt(max|W_j|)
    assert torch.allclose(smoothing(x_absmax, w, 0.5), torch.tensor([4.0, 0.5, 2.0]))
    assert torch.allclose(smoothing(x_absmax, w, 1.0), x_absmax)


def test_int8_linear_close_to_fp32_and_cls_exact():
    torch.manual_seed(0)
    lin = torch.nn.Linear(64, 48)
    x = torch.randn(3, 10, 64)
    x[:, 0] *= 20  # a [CLS]-like outlier position, computed in fp32
    x[:, 1:, 5] *= 15  # an outlier channel, which smoothing flattens
    ref = lin(x).detach()
    absmax = x[:, 1:].reshape(-1, 64).abs().amax(0)  # position 0 is not quantized
    rows = RowLengths()
    q = SmoothInt8Linear(lin, smoothing(absmax, lin.weight), rows)
    got = q(x)
    assert torch.allclose(got[:, 0], ref[:, 0], atol=1e-5)
    rel = (got - ref).norm() / ref.norm()
    assert 0 < rel < 0.02
    plain = SmoothInt8Linear(lin, torch.ones(64), rows)(x)  # no smoothing: worse
    assert (plain - ref).norm() / ref.norm() > rel
    rows.n = [10, 4, 1]  # right padding: positions past a row's length stay 0
    got = q(x)
    assert torch.equal(got[1, 4:], torch.zeros(6, 48)) and torch.equal(
        got[2, 1:], torch.zeros(9, 48)
    )
    assert torch.allclose(got[1, :4], q(x[1:2, :4])[0], atol=1e-6)


def test_int8_scores_close_to_fp32_and_the_model_changes(bert_dir, samples):
    m = _prm(bert_dir)
    m.window = 40  # several windows per solution
    items = [(s.prompt, s.steps) for s in samples]
    ref = _flat(EncoderScorer(m).score(items))
    n_linear = sum(isinstance(x, torch.nn.Linear) for x in m.encoder.encoder.modules())
    q = quantize_encoder(m, "int8")
    assert sum(isinstance(x, SmoothInt8Linear) for x in q.encoder.encoder.modules()) == n_linear
    assert not any(isinstance(x, torch.nn.Linear) for x in q.encoder.encoder.modules())
    assert isinstance(q.head, torch.nn.Linear)  # the head stays fp32
    got = _flat(EncoderScorer(q).score(items))
    diff = (got - ref).abs()
    assert diff.max() < PROB_TOL
    assert diff.max() > 1e-6  # int8 really ran
    assert ref.std() > 10 * diff.mean()  # scores spread far more than int8 moves them
    # steps in a solution's first window barely move when later steps are cut otherwise
    p, st = items[0]
    other = st[:2] + ["1 + 1 = 2 and then a much longer step " * 3]
    a, b = EncoderScorer(q).score([(p, st), (p, other)])
    assert a[:2] == pytest.approx(b[:2], abs=PROB_TOL)


def test_quantize_modes(bert_dir):
    m = _prm(bert_dir)
    assert quantize_encoder(m, "none") is m
    assert any(isinstance(x, torch.nn.Linear) for x in m.encoder.encoder.modules())
    with pytest.raises(ValueError, match="int4"):
        quantize_encoder(m, "int4")


def test_score_cli_quantize_int8(bert_dir, samples, tmp_path, capsys):
    from prmkit.cli import main

    _prm(bert_dir).save(tmp_path / "prm")
    write_jsonl(tmp_path / "in.jsonl", [s.to_dict() for s in samples[:6]])
    outs = {}
    for mode in ("none", "int8"):
        out = tmp_path / f"{mode}.jsonl"
        args = ["score", "--prm", str(tmp_path / "prm"), "--in", str(tmp_path / "in.jsonl")]
        assert main(args + ["--out", str(out), "--quantize", mode]) in (0, None)
        json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        outs[mode] = _flat([r["meta"]["prm_scores"] for r in read_jsonl(out)])
    diff = (outs["int8"] - outs["none"]).abs().max()
    assert 1e-6 < diff < PROB_TOL
    prm = load_prm(str(tmp_path / "prm"), quantize="int8")
    assert any(isinstance(x, SmoothInt8Linear) for x in prm.model.modules())
    # a PRM int8 does not apply to is refused, never silently run in fp32
    args = ["score", "--prm", "rule", "--in", str(tmp_path / "in.jsonl")]
    assert main(args + ["--out", str(tmp_path / "r.jsonl"), "--quantize", "int8"]) == 2
    assert "--quantize int8 applies to encoder PRMs only" in capsys.readouterr().err
