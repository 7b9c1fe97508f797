"""Training survives a kill: SIGKILL mid-run, then --resume, ends where an uninterrupted run ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import prmkit
from prmkit.models.train_state import TrainState

SRC = str(Path(prmkit.__file__).parent.parent)


def cli(argv: list, **kw) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "prmkit.cli", *map(str, argv)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def finish(p: subprocess.Popen) -> str:
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err.decode()
    return out.decode()


def rows(out: Path) -> int:
    try:
        return (out / "metrics.jsonl").read_text().count("\n")
    except FileNotFoundError:
        return 0


def kill_midway(argv: list, out: Path, after_rows: int) -> None:
    """Start the run and SIGKILL it once metrics.jsonl has `after_rows` rows."""
    p = cli(argv)
    t0 = time.time()
    while rows(out) < after_rows:
        assert p.poll() is None, "the run ended before it could be killed"
        assert time.time() - t0 < 600
        time.sleep(0.002)
    p.send_signal(signal.SIGKILL)
    assert p.wait() == -signal.SIGKILL


def assert_same_run(a: Path, b: Path, weights: str) -> None:
    assert (a / "metrics.jsonl").read_text() == (b / "metrics.jsonl").read_text()
    assert (a / weights).read_bytes() == (b / weights).read_bytes()


@pytest.fixture(scope="module")
def problems(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "train.jsonl"
    finish(cli(["world", "generate", "--n", 200, "--seed", 0, "--out", path]))
    return path


def test_policy_train_killed_and_resumed_ends_like_an_uninterrupted_run(problems, tmp_path):
    tiny = ["--d-model", 32, "--n-layer", 1, "--n-head", 2, "--block-size", 128]
    base = ["policy", "train", "--problems", problems, "--steps", 80, "--batch-size", 8]
    base += tiny + ["--eval-problems", 0, "--save-every", 10, "--no-progress"]
    finish(cli(base + ["--out", tmp_path / "full"]))
    killed = tmp_path / "killed"
    kill_midway(base + ["--out", killed], killed, after_rows=25)
    assert 25 <= rows(killed) < 80 and (killed / "checkpoint.pt").exists()
    finish(cli(base + ["--out", killed, "--resume"]))
    assert_same_run(tmp_path / "full", killed, "model.safetensors")
    assert rows(killed) == 80


def test_prm_train_killed_and_resumed_ends_like_an_uninterrupted_run(tmp_path):
    from test_prm_train import make_samples

    from prmkit.data import write_jsonl

    write_jsonl(tmp_path / "d.jsonl", make_samples(64, seed=3))
    tiny = ["--d-model", 32, "--n-layer", 1, "--n-head", 2, "--block-size", 128]
    base = ["prm", "train", "--data", tmp_path / "d.jsonl", "--steps", 80, "--batch-size", 8]
    base += tiny + ["--save-every", 10, "--no-progress"]
    finish(cli(base + ["--out", tmp_path / "full"]))
    killed = tmp_path / "killed"
    kill_midway(base + ["--out", killed], killed, after_rows=25)
    assert 25 <= rows(killed) < 80 and (killed / "checkpoint.pt").exists()
    finish(cli(base + ["--out", killed, "--resume"]))
    assert_same_run(tmp_path / "full", killed, "model.safetensors")
    assert rows(killed) == 80


def test_rl_killed_and_resumed_ends_like_an_uninterrupted_run(tiny_policy, tmp_path):
    base = ["rl", "--policy", tiny_policy, "--reward", "prime", "--steps", 16, "--seed", 0]
    base += ["--prompts-per-step", 2, "--group-size", 2, "--n-problems", 20, "--n-eval", 4]
    base += ["--eval-every", 8, "--max-new-tokens", 16, "--save-every", 3, "--no-progress"]
    finish(cli(base + ["--out", tmp_path / "full"]))
    killed = tmp_path / "killed"
    kill_midway(base + ["--out", killed], killed, after_rows=8)  # the step-0 eval, then 7 steps
    assert (killed / "checkpoint.pt").exists() and not (killed / "policy").exists()
    finish(cli(base + ["--out", killed, "--resume"]))

    def without_seconds(path: Path) -> list[dict]:
        return [
            {k: v for k, v in json.loads(line).items() if k != "seconds"}
            for line in (path / "metrics.jsonl").read_text().splitlines()
        ]

    assert without_seconds(killed) == without_seconds(tmp_path / "full")
    assert [r["step"] for r in without_seconds(killed)] == list(range(17))
    weights = "policy/model.safetensors"
    assert (killed / weights).read_bytes() == (tmp_path / "full" / weights).read_bytes()


def test_resume_refuses_a_checkpoint_of_other_settings(tmp_path):
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.AdamW(model.parameters())
    state = TrainState(tmp_path, {"lr": 1e-3}, save_every=1)
    state.start({"model": model}, {"opt": opt})
    state.log({"step": 1})
    state.step_done(1)
    from prmkit.data import InputError

    with pytest.raises(InputError, match="other settings \\(lr\\)"):
        TrainState(tmp_path, {"lr": 2e-3}, resume=True).start({"model": model}, {"opt": opt})
    again = TrainState(tmp_path, {"lr": 1e-3}, resume=True)
    assert again.start({"model": model}, {"opt": opt}) == 1 and again.rows == [{"step": 1}]
