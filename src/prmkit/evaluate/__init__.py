"""Evaluation: ProcessBench first-error metrics, step AUROC, best-of-N curves."""
