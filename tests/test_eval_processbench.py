"""ProcessBench metrics against hand-computed values, and `prmkit eval processbench`."""

import itertools
import json
import random
from pathlib import Path

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
    # the paper's way by default: threshold 0.5 on the whole file
    assert s["threshold"] == 0.5 and s["threshold_from"] == "fixed"
    assert s["n_eval"] == len(recs) and s["n_dev"] == 0 and s["world"] == "arithmetic"
    assert s["f1"] == 1.0 and s["auroc"] == 1.0
    rows = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert all(r["predicted"] == r["label"] for r in rows) and len(rows) == len(recs)
    code, out, _ = run_cli(
        ["eval", "processbench", "--prm", "rule", "--data", path, "--threshold", "0.3"], capsys
    )
    s = last_json(out)
    assert s["threshold"] == 0.3 and s["threshold_from"] == "fixed" and s["n_eval"] == len(recs)
    code, out, _ = run_cli(
        ["eval", "processbench", "--prm", "rule", "--data", path, "--sweep"], capsys
    )
    s = last_json(out)
    assert s["threshold_from"] == "dev-split sweep" and s["n_eval"] + s["n_dev"] == len(recs)
    assert 0 < s["n_dev"] < len(recs)
    code, out, _ = run_cli(
        ["eval", "processbench", "--prm", "rule", "--data", path, "--sweep", "--dev", path],
        capsys,
    )
    s = last_json(out)
    assert s["threshold_from"] == "dev-file sweep" and s["n_eval"] == len(recs)


def test_swept_threshold_is_printed_as_used():
    # scores near 1 put the best threshold between 0.9999990 and 0.9999999: the
    # summary must show it as used, not rounded to 1.0
    scores = [[0.9999999, 0.999999], [0.9999999, 0.9999999]]
    t = select_threshold(scores, [1, -1])
    assert 0.999999 < t <= 0.9999999
    from prmkit.commands.eval_processbench import clean_metrics

    shown = clean_metrics(evaluate_scores(scores, [1, -1], t))
    assert shown["threshold"] == t and shown["f1"] == 1.0


@pytest.mark.parametrize("prm", ["rule", "local-rule", "rule:arithmetic", "local-rule:arithmetic"])
def test_rule_prms_are_accepted_by_eval_and_score(tmp_path, capsys, prm):
    path = tmp_path / "pb.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _processbench_records(20)))
    code, out, err = run_cli(["eval", "processbench", "--prm", prm, "--data", path], capsys)
    assert code == 0, err
    s = last_json(out)
    assert s["kind"] == prm.split(":")[0] and s["world"] == "arithmetic" and s["f1"] > 0.9
    code, out, err = run_cli(
        ["score", "--prm", prm, "--in", path, "--out", tmp_path / "s.jsonl"], capsys
    )
    assert code == 0, err
    rows = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert len(rows) == 20 and all(len(r["prm_scores"]) == len(r["steps"]) for r in rows)


def test_folder_of_splits_writes_table_json_and_png(tmp_path, capsys):
    folder = tmp_path / "pb"
    folder.mkdir()
    for i, name in enumerate(["gsm8k", "math", "olympiadbench", "omnimath"]):
        (folder / f"{name}.json").write_text(json.dumps(_processbench_records(30, seed=i)))
    report = tmp_path / "report"
    code, out, err = run_cli(
        ["eval", "processbench", "--prm", "rule", "--data", folder, "--report", report]
        + ["--no-progress"],
        capsys,
    )
    assert code == 0, err
    s = last_json(out)
    assert list(s["splits"]) == ["gsm8k", "math", "olympiadbench", "omnimath"]
    assert s["mean"]["f1"] == 1.0 and all(m["n_eval"] == 30 for m in s["splits"].values())
    table = (report / "processbench.md").read_text()
    assert "| olympiadbench | 30 | 100.0 |" in table and "**mean**" in table
    assert json.loads((report / "processbench.json").read_text())["mean"]["f1"] == 1.0
    assert (report / "processbench.png").read_bytes()[:4] == b"\x89PNG"
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run_cli(["eval", "processbench", "--prm", "rule", "--data", empty], capsys)
    assert code == 2 and "no ProcessBench files" in err


def test_flags_that_do_not_apply_are_refused(tmp_path, capsys):
    path = tmp_path / "pb.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _processbench_records(5)))
    base = ["eval", "processbench", "--prm", "rule", "--data", path]
    code, _, err = run_cli(base + ["--dev", path], capsys)
    assert code == 2 and "add --sweep" in err
    code, _, err = run_cli(base + ["--sweep", "--threshold", "0.7"], capsys)
    assert code == 2 and "not both" in err
    code, _, err = run_cli(base[:3] + [tmp_path, "--data", path, "--world", "gsm8k"], capsys)
    assert code == 2 and "not one" in err


def test_skip_invalid_counts_what_it_skips(tmp_path, capsys):
    recs = _processbench_records(6)
    recs[2]["label"] = 99
    lines = [json.dumps(r) for r in recs]
    lines.insert(4, "{not json")
    path = tmp_path / "pb.jsonl"
    path.write_text("\n".join(lines) + "\n")
    for cmd in (
        ["eval", "processbench", "--prm", "rule", "--data", path],
        ["score", "--prm", "rule", "--in", path, "--out", tmp_path / "s.jsonl"],
    ):
        code, _, err = run_cli(cmd, capsys)
        assert code == 2 and f"{path}:3: label 99 out of range" in err
        code, out, err = run_cli(cmd + ["--skip-invalid"], capsys)
        assert code == 0, err
        assert last_json(out)["skipped"] == 2
        assert f"skipped: {path}:3:" in err and f"skipped: {path}:5: invalid JSON" in err
    assert len((tmp_path / "s.jsonl").read_text().splitlines()) == 5


REAL = Path(__file__).resolve().parents[1] / "../shared/data/processbench/gsm8k.json"


@pytest.mark.skipif(not REAL.exists(), reason="needs ../shared/data/processbench")
def test_free_text_checker_on_real_processbench_gsm8k(capsys):
    code, out, err = run_cli(
        ["eval", "processbench", "--prm", "rule:gsm8k", "--data", REAL, "--no-progress"], capsys
    )
    assert code == 0, err
    s = last_json(out)
    # it finds some real arithmetic errors and raises no false alarm on this file
    assert s["n_eval"] == 400 and s["acc_error"] > 0.03 and s["acc_correct"] >= 0.99


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


def test_world_auto_reads_free_text_and_a_named_world_wins(tmp_path, capsys):
    recs = [
        {
            "id": "a",
            "problem": "Sue has 3 apples and buys 4.",
            "label": 1,
            "steps": ["She buys 4 apples.", "In all 3 + 4 = 8 apples.", "The answer is 8."],
        },
        {
            "id": "b",
            "problem": "Tom has 2 pens and buys 5.",
            "label": -1,
            "steps": ["He buys 5 pens.", "In all $2 + 5 = 7$ pens.", "The answer is \\boxed{7}."],
        },
    ]
    path = tmp_path / "pb.json"
    path.write_text(json.dumps(recs))
    code, out, err = run_cli(["eval", "processbench", "--prm", "rule", "--data", path], capsys)
    assert code == 0, err
    s = last_json(out)
    assert s["world"] == "gsm8k" and s["f1"] == 1.0
    code, out, err = run_cli(
        ["eval", "processbench", "--prm", "local-rule:math", "--data", path], capsys
    )
    s = last_json(out)
    assert s["world"] == "math" and s["acc_error"] == 0.0  # the math world checks no steps
    code, _, err = run_cli(
        ["eval", "processbench", "--prm", "rule", "--world", "arithmetic", "--data", path], capsys
    )
    assert code == 2 and "not an arithmetic-world prompt" in err


def test_score_in_chunks_equals_one_call():
    from prmkit.prm.base import LocalRulePRM, score_in_chunks

    recs = _processbench_records(30)
    items = [(r["problem"], r["steps"]) for r in recs]
    prm = LocalRulePRM("arithmetic")
    assert score_in_chunks(prm, items, chunk=7) == prm.score(items)
