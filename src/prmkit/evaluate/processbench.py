"""ProcessBench-style evaluation of step scores (Zheng et al. 2024, "ProcessBench:
Identifying Process Errors in Mathematical Reasoning", arXiv:2412.06559).

A PRM's prediction for a solution is the first step whose score falls below a
threshold (-1 if none). With the true first error e (-1 for a correct solution):

    acc_error   = mean over solutions with e >= 0 of [prediction == e]
    acc_correct = mean over solutions with e == -1 of [prediction == -1]
    f1          = 2 * acc_error * acc_correct / (acc_error + acc_correct)

Step AUROC: the probability that a step before the first error scores higher than a
first-error step (steps after the first error are not used: their label is moot).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from prmkit.data import Sample
from prmkit.data.formats import sample_labels


def predict_first_error(scores: Sequence[float], threshold: float) -> int:
    """Index of the first step scored below the threshold, -1 if none."""
    return next((i for i, s in enumerate(scores) if s < threshold), -1)


def harmonic_mean(a: float, b: float) -> float:
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


def processbench_metrics(predicted: Sequence[int], truth: Sequence[int]) -> dict:
    """acc_error, acc_correct, f1 (and counts) from predicted and true first errors."""
    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} predictions for {len(truth)} solutions")
    err = [p == t for p, t in zip(predicted, truth) if t >= 0]
    cor = [p == -1 for p, t in zip(predicted, truth) if t < 0]
    acc_error = float(np.mean(err)) if err else float("nan")
    acc_correct = float(np.mean(cor)) if cor else float("nan")
    f1 = harmonic_mean(acc_error, acc_correct) if err and cor else float("nan")
    return {
        "f1": f1,
        "acc_error": acc_error,
        "acc_correct": acc_correct,
        "n_error": len(err),
        "n_correct": len(cor),
    }


def f1_at(scores: Sequence[Sequence[float]], truth: Sequence[int], threshold: float) -> dict:
    return processbench_metrics([predict_first_error(s, threshold) for s in scores], truth)


def _intervals(
    scores: Sequence[Sequence[float]], truth: Sequence[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each solution is judged right exactly for thresholds t in (lo, hi]: an erroneous one
    when s_e < t <= min(s_0..s_{e-1}), a correct one when t <= min(s). Returns (lo, hi,
    is_error)."""
    lo, hi, is_err = [], [], []
    for s, e in zip(scores, truth):
        s = [float(x) for x in s]
        if e >= 0:
            lo.append(s[e] if e < len(s) else np.inf)
            hi.append(min(s[:e]) if e > 0 else np.inf)
        else:
            lo.append(-np.inf)
            hi.append(min(s) if s else np.inf)
        is_err.append(e >= 0)
    return np.array(lo), np.array(hi), np.array(is_err, dtype=bool)


def select_threshold(scores: Sequence[Sequence[float]], truth: Sequence[int]) -> float:
    """The threshold with the best F1 on these (dev) solutions.

    Exact: F1 only changes at step scores, so every midpoint between consecutive
    distinct scores (and both ends) is tried, vectorised; ties go to the candidate
    nearest 0.5.
    """
    lo, hi, is_err = _intervals(scores, truth)
    vals = np.unique(
        np.concatenate([np.asarray(s, dtype=float) for s in scores if len(s)] or [np.array([0.5])])
    )
    cands = np.concatenate([[vals[0] - 1e-6], (vals[1:] + vals[:-1]) / 2, [vals[-1] + 1e-6]])
    if not is_err.any() or is_err.all():
        return 0.5
    best, best_f1 = 0.5, -1.0
    for part in np.array_split(cands, max(1, len(cands) // 512)):
        ok = (lo[None, :] < part[:, None]) & (part[:, None] <= hi[None, :])  # (C, N)
        acc_e = ok[:, is_err].mean(1)
        acc_c = ok[:, ~is_err].mean(1)
        f1 = np.where(acc_e + acc_c > 0, 2 * acc_e * acc_c / np.maximum(acc_e + acc_c, 1e-12), 0.0)
        for t, f in zip(part, f1):
            if f > best_f1 + 1e-12 or (
                abs(f - best_f1) <= 1e-12 and abs(t - 0.5) < abs(best - 0.5)
            ):
                best, best_f1 = float(t), float(f)
    return best


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties 1/2.

    Mann-Whitney U with average ranks; nan when one class is empty.
    """
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def step_auroc(scores: Sequence[Sequence[float]], truth: Sequence[int]) -> float:
    """AUROC over steps up to and including each solution's first error."""
    flat, labels = [], []
    for s, e in zip(scores, truth):
        upto = len(s) if e < 0 else e + 1
        flat += list(s[:upto])
        labels += [e < 0 or i < e for i in range(min(upto, len(s)))]
    return auroc(flat, labels)


def evaluate_scores(
    scores: Sequence[Sequence[float]], truth: Sequence[int], threshold: float
) -> dict:
    """The summary: f1, acc_error, acc_correct, threshold, auroc (+ counts)."""
    m = f1_at(scores, truth, threshold)
    return {
        "f1": m["f1"],
        "acc_error": m["acc_error"],
        "acc_correct": m["acc_correct"],
        "threshold": threshold,
        "auroc": step_auroc(scores, truth),
        "n_error": m["n_error"],
        "n_correct": m["n_correct"],
    }


def true_first_error(s: Sample) -> int:
    """The exact grade's first error when the sample has one, else its labels'."""
    return s.first_error if s.first_error is not None else sample_labels(s).first_error


def in_dev(problem_id: str, fraction: float, seed: int) -> bool:
    """Whether a problem falls in the dev split that chooses a threshold: a hash of the
    seed and the problem id, so every solution of a problem lands on the same side."""
    h = hashlib.sha256(f"{seed}:{problem_id}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64 < fraction
