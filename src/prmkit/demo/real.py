"""`prmkit demo --real`: the real-text track, on GSM8K and ProcessBench.

perturbation labels on GSM8K train references -> an all-MiniLM-L6-v2 encoder PRM (the
encoder frozen, its head trained on tag states encoded once) -> ProcessBench gsm8k
(F1 at threshold 0.5 and at a dev-chosen one, step and solution AUROC) -> report.md with
a table and plots (F1 against head training steps; accuracy on erroneous and correct
solutions).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from prmkit.data import InputError, read_jsonl
from prmkit.data.converters import read_samples
from prmkit.evaluate.processbench import (
    auroc,
    evaluate_scores,
    in_dev,
    select_threshold,
    true_first_error,
)
from prmkit.label.engine import LabelJob, run_labeling
from prmkit.label.options import PerturbOptions
from prmkit.prm.encoder import EncoderStepModel
from prmkit.prm.encoder_train import head_scores, tag_features, targets, train_head
from prmkit.prm.train import TrainSettings
from prmkit.report import bar_plot, line_plot

HEAD_STEPS = (25, 50, 100, 200, 400)


def figures(scores: list[list[float]], samples, seed: int = 0) -> dict:
    """F1 at 0.5 on all solutions; F1 on 70% of the problems at the threshold chosen on
    the other 30% (`eval processbench`'s dev split); step AUROC; solution AUROC of the
    min step score against `final_answer_correct` (in percent where a rate)."""
    truth = [true_first_error(s) for s in samples]
    dev = [in_dev(s.problem_id, 0.3, seed) for s in samples]
    pick = lambda xs, want: [x for x, d in zip(xs, dev) if d == want]  # noqa: E731
    thr = select_threshold(pick(scores, True), pick(truth, True))
    at05 = evaluate_scores(scores, truth, 0.5)
    at_dev = evaluate_scores(pick(scores, False), pick(truth, False), thr)
    known = [(min(sc) if sc else 1.0, s.correct) for sc, s in zip(scores, samples)]
    known = [(a, c) for a, c in known if c is not None]
    return {
        "f1_05": round(100 * at05["f1"], 1),
        "acc_error_05": round(100 * at05["acc_error"], 1),
        "acc_correct_05": round(100 * at05["acc_correct"], 1),
        "f1_dev": round(100 * at_dev["f1"], 1),
        "acc_error_dev": round(100 * at_dev["acc_error"], 1),
        "acc_correct_dev": round(100 * at_dev["acc_correct"], 1),
        "threshold_dev": round(thr, 4),
        "auroc_step": round(at05["auroc"], 4),
        "auroc_solution": round(auroc([a for a, _ in known], [c for _, c in known]), 4),
        "n": len(samples),
    }


def _head(d: int, seed: int) -> torch.nn.Linear:
    torch.manual_seed(seed)
    h = torch.nn.Linear(d, 1)
    torch.nn.init.zeros_(h.weight)
    torch.nn.init.zeros_(h.bias)
    return h


def run_real(cfg) -> dict:
    """The real-text demo; `cfg` is the demo's Config (out, quick, seed, progress,
    gsm8k, processbench, init)."""
    if not cfg.gsm8k or not cfg.processbench:
        raise InputError(
            "--real needs --gsm8k (GSM8K train JSONL) and --processbench (its gsm8k.json)"
        )
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    n_train, n_eval = (200, 150) if cfg.quick else (600, 0)
    t0, secs = time.time(), {}
    refs = read_jsonl(cfg.gsm8k)[:n_train]
    (out / "gsm8k_train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in refs))
    job = LabelJob(method="perturb", seed=cfg.seed, perturb=PerturbOptions(correct=0.4))
    lab = run_labeling(
        job, str(out / "gsm8k_train.jsonl"), str(out / "perturb.jsonl"), progress=cfg.progress
    )
    secs["label"] = round(time.time() - t0, 1)
    ts = time.time()
    model = EncoderStepModel.from_pretrained(cfg.init, train_layers=0)
    train = read_samples(out / "perturb.jsonl")
    f_train = tag_features(
        model,
        [(s.prompt, s.steps, targets(model, s, "hard")) for s in train],
        progress=cfg.progress,
    )
    secs["encode_train"] = round(time.time() - ts, 1)
    test = read_samples(cfg.processbench)
    if n_eval:  # a spread over the file: ProcessBench lists erroneous solutions first
        test = test[:: max(1, len(test) // n_eval)][:n_eval]
    ts = time.time()
    f_test = tag_features(model, [(s.prompt, s.steps, None) for s in test], progress=cfg.progress)
    secs["encode_eval"] = round(time.time() - ts, 1)
    rows, final = [], None
    ts = time.time()
    for steps in HEAD_STEPS:
        head = _head(f_train.x.shape[1], cfg.seed)
        st = TrainSettings(
            steps=steps, batch_size=32, lr=1e-2, warmup=min(20, steps // 5), seed=cfg.seed
        )
        log = train_head(head, f_train, st, progress=False)
        rows.append(
            {"steps": steps, "loss_last": log["loss_last"]}
            | figures(head_scores(head, f_test, len(test)), test, cfg.seed)
        )
        final = head
    secs["train_heads"] = round(time.time() - ts, 1)
    model.head.load_state_dict(final.state_dict())
    model.save(
        out / "prm",
        {
            "train": {
                "data": str(out / "perturb.jsonl"),
                "steps": HEAD_STEPS[-1],
                "seed": cfg.seed,
                "label_source": "perturb",
            }
        },
    )
    total = round(time.time() - t0, 1)
    report(out, rows, secs, lab, total, len(test), cfg)
    summary = {"command": "demo", "real": True, "out": str(out), "report": str(out / "report.md")}
    summary |= {k: rows[-1][k] for k in ("f1_05", "f1_dev", "auroc_step", "auroc_solution")}
    summary |= {"seconds": total}
    (out / "summary.json").write_text(
        json.dumps(summary | {"rows": rows, "timings": secs}, indent=2) + "\n"
    )
    return summary


def report(out: Path, rows: list[dict], secs: dict, lab: dict, total: float, n: int, cfg) -> None:
    line_plot(
        {
            "F1 at 0.5": ([r["steps"] for r in rows], [r["f1_05"] for r in rows]),
            "F1 dev-chosen": ([r["steps"] for r in rows], [r["f1_dev"] for r in rows]),
        },
        str(out / "f1_steps.png"),
        "ProcessBench gsm8k F1 against head steps",
        "head training steps",
        "F1",
        logx=True,
    )
    last = rows[-1]
    bar_plot(
        {
            "error acc@0.5": last["acc_error_05"],
            "correct acc@0.5": last["acc_correct_05"],
            "error acc@dev": last["acc_error_dev"],
            "correct acc@dev": last["acc_correct_dev"],
        },
        str(out / "accuracy.png"),
        "ProcessBench gsm8k: first error found / correct kept",
        "%",
    )
    head = "| head steps | F1 @0.5 | F1 dev-chosen (thr) | step AUROC | solution AUROC |\n|---|---|---|---|---|\n"
    table = "".join(
        f"| {r['steps']} | {r['f1_05']} | {r['f1_dev']} ({r['threshold_dev']}) | {r['auroc_step']} | {r['auroc_solution']} |\n"
        for r in rows
    )
    text = [
        f"# prmkit demo --real{' (quick)' if cfg.quick else ''}\n\n",
        f"Seed {cfg.seed}, {total} s in all ({', '.join(f'{k} {v} s' for k, v in secs.items())}).\n\n",
        f"1. `label --method perturb`: {lab['items']} GSM8K train references, {lab['with_error']} with one injected mistake.\n",
        f"2. Encoder PRM on `{cfg.init}` (frozen, step-causal mask), a linear head trained on the tag states.\n",
        f"3. ProcessBench gsm8k, {n} solutions: F1 at threshold 0.5 on all; dev-chosen: threshold on 30% of the problems, F1 on the rest.\n\n",
        head + table,
        "\n![F1 against steps](f1_steps.png)\n\n![accuracies](accuracy.png)\n",
    ]
    (out / "report.md").write_text("".join(text))
