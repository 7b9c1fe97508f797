"""A PRM that also reads the acting policy's surprise at each action (`prmkit prm surprise`).

A policy sampled at temperature 1 makes many of its mistakes on tokens it found
unlikely: a number copied wrong, an operator it seldom writes there, an id it
seldom picks. Its own log-probabilities of an action's tokens hold that, and a PRM
that reads the text alone cannot see them. A surprise PRM stacks the two, per turn
(or step) k:

    z_k = a * prm_logit_k + b * min_t log pi(x_t) + c * sum_t log pi(x_t) + d

over the tokens x_t of action k under the policy pi (the observations are context,
never the policy's: the action spans of `prmkit.data.render_turns`), and scores
sigmoid(z_k). The four weights are a logistic regression fitted on a labelled file
(mc labels, say); the base PRM and the policy stay as they are. It helps where the PRM scores the policy's
own samples, the case of search and RL; a mistake the policy makes with confidence
gives no surprise, and the base PRM must find it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path

import torch

from prmkit.data import InputError, render_turns, split_step
from prmkit.models.checkpoint import folder_config
from prmkit.prm.scorer import StepScorer

KIND = "surprise"
WEIGHTS = ("prm_logit", "min_logprob", "sum_logprob", "bias")


def action_spans(prompt: str, steps: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """The text the policy saw (`render_turns`) and each step's action span in it;
    a step without ` => ` is all action (a step-level solution)."""
    return render_turns(prompt, [split_step(s) for s in steps])


def _jobs(tok, prompt: str, steps: list[str], block: int) -> list[tuple[list[int], list]]:
    """Token windows of at most `block` tokens, each with the (step, start, end) token
    ranges it reads: the whole solution when it fits, else for each step the prompt
    and as many turns before it as fit (cut from the left when even one does not)."""
    text, spans = action_spans(prompt, steps)
    ids = [tok.bos_id] + tok.encode(text)  # a character tokenizer: char i is token i + 1
    if len(ids) <= block:
        return [(ids, [(k, a + 1, b + 1) for k, (a, b) in enumerate(spans)])]
    jobs, j = [], 0  # the first turn that fits only moves right as k grows
    for k in range(len(steps)):
        t, sp = action_spans(prompt, steps[j : k + 1])
        while j < k and len(t) + 1 > block:
            j += 1
            t, sp = action_spans(prompt, steps[j : k + 1])
        w = [tok.bos_id] + tok.encode(t)
        a, b = sp[-1][0] + 1, sp[-1][1] + 1
        cut = max(0, len(w) - block)
        jobs.append((w[cut:], [(k, max(a - cut, 1), b - cut)]))
    return jobs


@torch.inference_mode()
def surprise_features(
    gpt, tok, items: list[tuple[str, list[str]]], batch_size: int = 64
) -> list[list[tuple[float, float]]]:
    """Per solution, per step: (min, sum) of the policy's log-probabilities of the
    step's action tokens, each given everything before it (0.0, 0.0 for an empty
    action). gpt: a built-in policy's GPT (logits (B, T, V) from ids (B, T))."""
    block = gpt.cfg.block_size
    jobs = [(i, job) for i, (p, s) in enumerate(items) for job in _jobs(tok, p, list(s), block)]
    out = [[(0.0, 0.0)] * len(s) for _, s in items]
    for lo in range(0, len(jobs), batch_size):
        chunk = jobs[lo : lo + batch_size]
        width = max(len(ids) for _, (ids, _) in chunk)
        x = torch.full((len(chunk), width), tok.pad_id, dtype=torch.long)
        for r, (_, (ids, _)) in enumerate(chunk):
            x[r, : len(ids)] = torch.tensor(ids)
        x = x.to(next(gpt.parameters()).device)
        lp = torch.log_softmax(gpt(x).float(), -1)
        tok_lp = lp[:, :-1].gather(-1, x[:, 1:, None])[..., 0]  # (B, T-1): token t+1 given <= t
        for r, (i, (_, reads)) in enumerate(chunk):
            for k, a, b in reads:
                v = tok_lp[r, a - 1 : b - 1]
                out[i][k] = (v.min().item(), v.sum().item()) if len(v) else (0.0, 0.0)
    return out


def design(prm_probs: list[float], feats: list[tuple[float, float]]) -> torch.Tensor:
    """(n, 3) inputs of one solution: the PRM's logit (from its probability, clamped
    to 1e-6..1-1e-6), the min and the sum of the action's log-probabilities."""
    p = torch.tensor(prm_probs, dtype=torch.float64).clamp(1e-6, 1 - 1e-6)
    f = torch.tensor(feats, dtype=torch.float64).reshape(-1, 2)
    return torch.cat([torch.log(p / (1 - p))[:, None], f], dim=1)


def combine(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """z = x @ w[:3] + w[3]: x (n, 3) from `design`, w (4,) -> (n,) logits."""
    return x @ w[:3] + w[3]


def fit(x: torch.Tensor, y: torch.Tensor, l2: float = 1e-4) -> tuple[torch.Tensor, dict]:
    """Logistic regression of targets y (n,) in [0, 1] on x (n, 3) (LBFGS, L2 `l2` on
    the three slopes). Returns w (4,) and the mean log-loss of the PRM's own score
    (w = (1, 0, 0, 0)) and of the fit."""
    x, y = x.double(), y.double()
    w = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64, requires_grad=True)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    opt = torch.optim.LBFGS([w], lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = bce(combine(x, w), y) + l2 * (w[:3] ** 2).sum()
        loss.backward()
        return loss

    with torch.no_grad():
        before = bce(combine(x, w), y).item()
    opt.step(closure)
    w = w.detach()
    with torch.no_grad():
        after = bce(combine(x, w), y).item()
    return w, {"logloss_prm": round(before, 4), "logloss_fit": round(after, 4)}


class SurpriseScorer:
    """A base PRM (any StepScorer) and a built-in policy's surprise, stacked by `w`."""

    kind = KIND

    def __init__(self, base: StepScorer, policy, w: torch.Tensor) -> None:
        self.base, self.policy, self.w = base, policy, w.double()

    def features(self, items: list[tuple[str, list[str]]]) -> list[list[tuple[float, float]]]:
        return surprise_features(self.policy.model, self.policy.tok, items)

    def score(self, items: list[tuple[str, list[str]]]) -> list[list[float]]:
        base, feats = self.base.score(items), self.features(items)
        out = []
        for p, f in zip(base, feats):
            z = combine(design(p, f), self.w) if p else torch.zeros(0)
            out.append(torch.sigmoid(z).tolist())
        return out


def load_policy(path: str, device: str | None = None):
    """A built-in policy checkpoint (the only kind whose surprise prmkit reads), on
    `device` (default: CPU); an InputError naming the folder otherwise."""
    from prmkit.models.builtin import BuiltinPolicy

    cfg = folder_config(path)
    if cfg.get("kind") != "policy" or cfg.get("backend", "builtin") != "builtin":
        raise InputError("a surprise PRM's policy must be a built-in policy checkpoint", path)
    policy = BuiltinPolicy.load(path, cfg)
    policy.model.to(device or "cpu").eval()
    return policy


def save(out: str, prm: str, policy: str, w: torch.Tensor, extra: dict) -> Path:
    """config.json of a surprise PRM: the base PRM and the policy as paths relative
    to `out` (so the three folders move together), and the weights."""
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    cfg = {
        "kind": KIND,
        "prm": os.path.relpath(Path(prm).resolve(), d.resolve()),
        "policy": os.path.relpath(Path(policy).resolve(), d.resolve()),
        "weights": dict(zip(WEIGHTS, (round(v, 6) for v in w.tolist()))),
        **extra,
    }
    (d / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    return d


def load(
    path: str, cfg: dict, load_base: Callable[[str], StepScorer], device: str | None = None
) -> SurpriseScorer:
    """The surprise PRM in `path` (config `cfg`); `load_base` opens its base PRM, and
    the policy goes to `device` (default: CPU)."""
    where = str(Path(path) / "config.json")
    try:
        w = torch.tensor([float(cfg["weights"][k]) for k in WEIGHTS], dtype=torch.float64)
        prm, policy = (str(Path(path) / cfg[k]) for k in ("prm", "policy"))
    except (KeyError, TypeError, ValueError):
        raise InputError(f"a surprise PRM needs prm, policy and weights {WEIGHTS}", where) from None
    if not all(math.isfinite(v) for v in w.tolist()):
        raise InputError("weights must be finite numbers", where)
    return SurpriseScorer(load_base(prm), load_policy(policy, device), w)
