"""Stack a trained PRM with the acting policy's surprise at each action: a logistic
regression on a labelled file (mc labels, say) of the PRM's turn logit and the min and
sum of the policy's log-probabilities of the action's tokens. The output folder is a
PRM: `--prm OUT` works wherever a PRM does (docs/prm-surprise.md)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import torch
from tqdm import tqdm

from prmkit.data import InputError
from prmkit.data.converters import read_samples, report_skipped
from prmkit.evaluate.processbench import auroc
from prmkit.prm import surprise
from prmkit.prm.base import load_scorer
from prmkit.prm.options import ModelPRMOptions, score_samples
from prmkit.prm.train import label_source, step_targets


@dataclass(kw_only=True)
class Config(ModelPRMOptions):
    RANGES: ClassVar[dict[str, str]] = {"l2": ">= 0"}
    """ranges of the numeric settings (prmkit.ranges), checked before a run"""
    prm: str
    """the base PRM: a trained PRM's folder (prm, orm, implicit-prm) or a published PRM's; saved by relative path, so keep the folders together"""
    policy: str
    """the policy whose samples the PRM will score: a built-in policy checkpoint (its log-probabilities are the surprise); saved by relative path"""
    data: str
    """labelled solutions of that policy or like it (prmkit samples with labels, e.g. from `prmkit label --method mc`), to fit the four weights on"""
    out: str
    """folder for the surprise PRM (config.json: the two paths and the weights)"""
    labels: Literal["hard", "soft"] = "hard"
    """targets: hard 0/1 labels, or soft labels in [0, 1] where a sample has them"""
    l2: float = 1e-4
    """L2 penalty on the three slopes of the logistic regression"""
    skip_invalid: bool = False
    """skip malformed records (named on stderr, counted in the summary) instead of stopping at the first"""
    progress: bool = True
    """show progress bars (stderr)"""


def policy_features(policy, items: list, progress: bool, chunk: int = 256) -> list:
    """`surprise.surprise_features` of every item, in chunks under a progress bar."""
    out: list = []
    with tqdm(total=len(items), desc="surprise", unit="sol", disable=not progress) as bar:
        for i in range(0, len(items), chunk):
            out += surprise.surprise_features(policy.model, policy.tok, items[i : i + chunk])
            bar.update(len(items[i : i + chunk]))
    return out


def run(cfg: Config) -> dict:
    invalid = [] if cfg.skip_invalid else None
    samples = read_samples(cfg.data, invalid=invalid)
    try:  # before the models load: an unlabelled file fails at once
        y = torch.tensor([t for s in samples for t in step_targets(s, cfg.labels)])
    except ValueError as e:
        raise InputError(str(e), cfg.data) from None
    t0 = time.time()
    if not Path(cfg.prm).is_dir():  # saved by path: a rule name or a hub id would not load
        raise InputError("--prm must be a PRM's folder", cfg.prm)
    base = load_scorer(cfg.prm, "arithmetic", *cfg.model_args(), workers=cfg.workers)
    policy = surprise.load_policy(cfg.policy, cfg.device)
    probs = score_samples(base, samples, cfg.data, "base PRM", cfg.progress)
    try:  # text the policy's tokenizer cannot read: the file's fault
        feats = policy_features(policy, [(s.prompt, s.steps) for s in samples], cfg.progress)
    except ValueError as e:
        raise InputError(str(e), cfg.data) from None
    x = torch.cat([surprise.design(p, f) for p, f in zip(probs, feats)])
    w, losses = surprise.fit(x, y, cfg.l2)
    right = (y > 0.5).tolist()
    fitted = surprise.combine(x, w).tolist()
    aurocs = {
        "auroc_prm": auroc(x[:, 0].tolist(), right),
        "auroc_surprise": auroc(x[:, 1].tolist(), right),
        "auroc_fit": auroc(fitted, right),
    }
    fit_info = {"data": cfg.data, "labels": label_source(samples, cfg.labels), "steps": len(y)}
    surprise.save(cfg.out, cfg.prm, cfg.policy, w, {"fit": fit_info | losses})
    return {
        "command": "prm surprise",
        "out": cfg.out,
        "solutions": len(samples),
        "steps": len(y),
        "label_source": fit_info["labels"],
        "weights": dict(zip(surprise.WEIGHTS, (round(v, 4) for v in w.tolist()))),
        **losses,
        **{k: None if math.isnan(v) else round(v, 4) for k, v in aurocs.items()},  # one class
        "skipped": report_skipped(invalid),
        "seconds": round(time.time() - t0, 1),
    }
