"""ProcessBench metrics against hand-computed values, and `prmkit eval processbench`."""

import itertools
import json
import random

import pytest
from conftest import last_json, run_cli

from prmkit.evaluate.processbench import (
    auroc,
    evaluate_scores,
    f1_at,
    predict_first_error,
    processbench_metrics,
    select_threshold,
    step_auroc,
)
from prmkit.worlds import arithmetic


def test_predict_first_error():
    assert predict_first_error([0.9, 0.8, 0.2, 0.9], 0.5) == 2
    assert predict_first_error([0.9, 0.8], 0.5) == -1
    assert predict_first_error([0.5, 0.1], 0.5) == 1  # ties are not below


def test_metrics_by_hand():
    # 3 wrong solutions (2 found exactly), 2 correct (1 kept correct)
    m = processbench_metrics([1, 0, 2, -1, 3], [1, 0, 1, -1, -1])
    assert m["acc_error"] == pytest.approx(2 / 3)
    assert m["acc_correct"] == pytest.approx(1 / 2)
    assert m["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert (m["n_error"], m["n_correct"]) == (3, 2)


def test_auroc_by_hand_and_against_pairs():
    assert auroc([0.9, 0.8, 0.1, 0.2], [True, True, False, False]) == 1.0
    assert auroc([0.5, 0.5], [True, False]) == 0.5
    assert auroc([0.1, 0.9, 0.4], [True, False, False]) == 0.0
    rng = random.Random(0)
    s = [rng.choice([0.1, 0.2, 0.5, 0.7]) for _ in range(60)]
    y = [rng.random() < 0.5 for _ in range(60)]
    pairs = [(a, b) for (a, ya), (b, yb) in itertools.product(zip(s, y), repeat=2) if ya and not yb]
    want = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs) / len(pairs)
    assert auroc(s, y) == pytest.approx(want)


def test_step_auroc_ignores_steps_after_the_first_error():
    # after-error steps score high; they must not count as negatives
    scores = [[0.9, 0.2, 0.95, 0.99], [0.8, 0.7]]
    assert step_auroc(scores, [1, -1]) == 1.0


def test_select_threshold_is_the_best_over_all_thresholds():
    rng = random.Random(1)
    for _ in range(5):
        truth = [rng.choice([-1, 0, 1, 2, 3]) for _ in range(80)]
        scores = [[round(rng.random(), 2) for _ in range(4)] for _ in truth]
        t = select_threshold(scores, truth)
        grid = [i / 1000 for i in range(1001)]
        best = max(f1_at(scores, truth, g)["f1"] for g in grid)
        assert f1_at(scores, truth, t)["f1"] == pytest.approx(best)


def test_evaluate_scores_summary_keys():
    m = evaluate_scores([[0.9, 0.1], [0.9, 0.9]], [1, -1], 0.5)
    assert {"f1", "acc_error", "acc_correct", "threshold", "auroc"} <= set(m)
    assert m["f1"] == 1.0 and m["threshold"] == 0.5


def _processbench_records(n=60, seed=0):
    rng = random.Random(seed)
    out = []
    for p in arithmetic.generate(n, seed=seed):
        if rng.random() < 0.5:
            steps, fe = arithmetic.solve(p["prompt"]), -1
        else:
            steps, _ = arithmetic.corrupt(p["prompt"], rng)
            fe = arithmetic.grade(p["prompt"], p["answer"], steps).first_error
        out.append(
            {
                "id": p["id"],
                "generator": "test",
                "problem": p["prompt"],
                "steps": steps,
                "label": fe,
                "final_answer_correct": fe == -1,
            }
        )
    return out


@pytest.mark.parametrize("layout", ["json", "jsonl"])
def test_cli_eval_processbench_official_format(tmp_path, capsys, layout):
    recs = _processbench_records()
    path = tmp_path / f"pb.{layout}"
    if layout == "json":
        path.write_text(json.dumps(recs))
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    code, out, err = run_cli(
        ["eval", "processbench", "--prm", "rule", "--data", path, "--out", tmp_path / "o.jsonl"],
        capsys,
    )
    assert code == 0, err
    s = last_json(out)
    for k in ("f1", "acc_error", "acc_correct", "threshold", "auroc"):
        assert k in s
    assert s["f1"] == 1.0 and s["auroc"] == 1.0 and s["threshold_from"] == "dev-split"
    assert s["n_eval"] + s["n_dev"] == len(recs)
    rows = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert all(r["predicted"] == r["label"] for r in rows)
    code, out, _ = run_cli(
        ["eval", "processbench", "--prm", "rule", "--data", path, "--threshold", "0.3"], capsys
    )
    s = last_json(out)
    assert s["threshold"] == 0.3 and s["threshold_from"] == "fixed" and s["n_eval"] == len(recs)


def test_cli_eval_bad_record_names_file_and_line(tmp_path, capsys):
    recs = _processbench_records(3)
    recs[1]["label"] = 99
    path = tmp_path / "pb.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    code, _, err = run_cli(
        ["eval", "processbench", "--prm", "rule", "--data", path, "--threshold", "0.5"], capsys
    )
    assert code == 2 and f"{path}:2: label 99 out of range" in err
    path.write_text("".join(json.dumps(r) + "\n" for r in _processbench_records(3)))
    code, _, err = run_cli(["eval", "processbench", "--prm", str(tmp_path), "--data", path], capsys)
    assert code == 2 and "config.json is missing" in err
