"""Training runs that survive a kill: atomic checkpoints every N steps and `--resume`.

One helper for `policy train`, `prm train` and `rl`. A run's output directory holds

- `checkpoint.pt`: the weights and optimizer states, the RNG states (Python's, torch's,
  and the run's own `random.Random`), the number of steps done, the metric rows so far,
  and the settings. Written to a temporary file, flushed to disk and renamed over the
  old one, so a kill at any moment leaves either the previous or the new checkpoint.
- `metrics.jsonl`: one row per step, appended as the run goes. On resume it is
  rewritten from the checkpoint's rows, so rows written after the last checkpoint are
  dropped and then recomputed: no step lost, none repeated.

A resumed run then computes exactly what the uninterrupted run would have (same
machine, same thread count: see models/reproducible.py for thread counts).
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Mapping
from pathlib import Path

import torch

from prmkit.data import InputError

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _rng_states(rng: random.Random | None) -> dict:
    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if rng is not None:
        state["run"] = rng.getstate()
    return state


def _set_rng_states(state: dict, rng: random.Random | None) -> None:
    random.setstate(_as_tuple(state["python"]))
    torch.set_rng_state(state["torch"])
    if rng is not None:
        rng.setstate(_as_tuple(state["run"]))


def _as_tuple(x):
    return tuple(_as_tuple(v) for v in x) if isinstance(x, (list, tuple)) else x


class TrainState:
    """Checkpoints and metric rows of one training run in `out_dir`; `settings` (a
    JSON-able mapping) must match on resume; `save_every` 0 saves no checkpoints."""

    def __init__(
        self, out_dir: str | Path, settings: Mapping, save_every: int = 0, resume: bool = False
    ) -> None:
        self.dir = Path(out_dir)
        self.settings = json.loads(json.dumps(dict(settings), default=str))
        self.save_every, self.resume = save_every, resume
        self.modules: dict[str, torch.nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.rng: random.Random | None = None
        self.rows: list[dict] = []

    @property
    def checkpoint(self) -> Path:
        return self.dir / CHECKPOINT

    def start(
        self,
        modules: Mapping[str, torch.nn.Module],
        optimizers: Mapping[str, torch.optim.Optimizer],
        rng: random.Random | None = None,
    ) -> int:
        """Steps already done: 0 for a fresh run (metrics.jsonl emptied), else restored
        from the checkpoint (weights, optimizers, RNG states, rows). The modules,
        optimizers and the run's own random.Random (data order) are saved by name."""
        self.modules, self.optimizers, self.rng = dict(modules), dict(optimizers), rng
        self.dir.mkdir(parents=True, exist_ok=True)
        if not (self.resume and self.checkpoint.exists()):
            self.rows = []
            self._rewrite_metrics()
            return 0
        ckpt = torch.load(self.checkpoint, map_location="cpu", weights_only=True)
        if ckpt["settings"] != self.settings:
            diff = sorted(
                k
                for k in self.settings.keys() | ckpt["settings"].keys()
                if self.settings.get(k) != ckpt["settings"].get(k)
            )
            raise InputError(
                f"--resume: the checkpoint was written with other settings ({', '.join(diff)}); "
                "use the same settings or a new --out",
                str(self.checkpoint),
            )
        for name, m in self.modules.items():
            m.load_state_dict(ckpt["modules"][name])
        for name, o in self.optimizers.items():
            o.load_state_dict(ckpt["optimizers"][name])
        _set_rng_states(ckpt["rng"], self.rng)
        self.rows = list(ckpt["rows"])
        self._rewrite_metrics()
        return int(ckpt["step"])

    def log(self, row: dict) -> None:
        """Record one step's metrics (appended to metrics.jsonl at once)."""
        self.rows.append(row)
        with open(self.dir / METRICS, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")

    def step_done(self, done: int) -> None:
        """Call after each step with the number of steps done; saves every save_every."""
        if self.save_every > 0 and done % self.save_every == 0:
            self.save(done)

    def save(self, done: int) -> None:
        state = {
            "step": done,
            "settings": self.settings,
            "modules": {n: m.state_dict() for n, m in self.modules.items()},
            "optimizers": {n: o.state_dict() for n, o in self.optimizers.items()},
            "rng": _rng_states(self.rng),
            "rows": self.rows,
        }
        _write_atomic(self.checkpoint, lambda f: torch.save(state, f))

    def _rewrite_metrics(self) -> None:
        text = "".join(json.dumps(r) + "\n" for r in self.rows).encode("utf-8")
        _write_atomic(self.dir / METRICS, lambda f: f.write(text))
