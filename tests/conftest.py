import json
import os
import sys

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def tiny_policy(tmp_path_factory):
    """A small built-in policy trained for a few steps: enough to exercise every path."""
    from prmkit.models.gpt import GPTConfig
    from prmkit.models.policy_train import SFTSettings, train_policy
    from prmkit.worlds import arithmetic

    prompts = [p["prompt"] for p in arithmetic.generate(200, seed=0)]
    cfg = GPTConfig(block_size=128, n_layer=2, n_head=2, d_model=32)
    policy, _ = train_policy(prompts, cfg, SFTSettings(steps=40, batch_size=16), progress=False)
    d = tmp_path_factory.mktemp("policy")
    policy.save(d, {"world": "arithmetic"})
    return d


def run_cli(args, capsys):
    """Run `prmkit ARGS` in-process: (exit code, stdout, stderr)."""
    from prmkit.cli import main

    try:
        code = main([str(a) for a in args])
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def last_json(stdout: str) -> dict:
    """The one-line JSON summary every command prints last, parsed."""
    lines = stdout.strip().splitlines()
    assert lines, "the command printed nothing on stdout"
    summary = json.loads(lines[-1])
    assert isinstance(summary, dict), lines[-1]
    return summary


sys.modules.setdefault("prmkit_test_helpers", sys.modules[__name__])
