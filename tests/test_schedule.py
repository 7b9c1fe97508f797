"""The one learning-rate schedule: linear warm-up, then cosine decay (or flat)."""

import math

import pytest
import torch

from prmkit.schedule import set_lr, warmup_cosine


def test_warmup_is_linear_then_the_cosine_falls_to_zero():
    # peak 1, 4 warm-up steps, 8 steps: (t + 1) / 4 up to 1, times (1 + cos(pi t / 8)) / 2
    got = [warmup_cosine(t, 1.0, 4, 8) for t in range(8)]
    want = [min(1, (t + 1) / 4) * (1 + math.cos(math.pi * t / 8)) / 2 for t in range(8)]
    assert got == pytest.approx(want)
    assert got[0] == 0.25 and got[3] == pytest.approx((1 + math.cos(3 * math.pi / 8)) / 2)
    assert warmup_cosine(8, 1.0, 4, 8) == pytest.approx(0.0)


def test_without_a_total_the_rate_stays_at_the_peak():
    assert [warmup_cosine(t, 2.0, 4) for t in (0, 1, 3, 100)] == [0.5, 1.0, 2.0, 2.0]
    assert warmup_cosine(0, 2.0, 0) == 2.0  # no warm-up


def test_set_lr_sets_every_group():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([{"params": [a]}, {"params": [b], "lr": 5.0}], lr=1.0)
    set_lr(opt, 0.125)
    assert [g["lr"] for g in opt.param_groups] == [0.125, 0.125]
