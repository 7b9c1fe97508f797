"""Every command that reads records: a malformed one is `FILE:LINE: what is wrong`
(exit 2); with --skip-invalid the command goes on and counts what it skipped."""

import json

import pytest
from conftest import last_json, run_cli

from prmkit.worlds import arithmetic

TINY_PRM = ["--d-model", "16", "--n-layer", "1", "--n-head", "2", "--batch-size", "4"]


def _samples(n=6):
    out = []
    for p in arithmetic.generate(n, seed=3):
        steps = arithmetic.solve(p["prompt"])
        out.append(
            {
                "id": p["id"],
                "problem_id": p["id"],
                "prompt": p["prompt"],
                "reference": p["answer"],
                "steps": steps,
                "correct": True,
                "first_error": -1,
            }
        )
    return out


def _with_bad_lines(path, records, bad_record):
    """records as JSONL with line 2 a record that fails validation and line 4 not JSON."""
    lines = [json.dumps(r) for r in records]
    lines.insert(1, json.dumps(bad_record))
    lines.insert(3, '{"id": "cut off')
    path.write_text("\n".join(lines) + "\n")
    return path


def _problems_file(tmp_path):
    probs = arithmetic.generate(4, seed=5)
    return _with_bad_lines(tmp_path / "problems.jsonl", probs, {"id": "p", "prompt": 3})


def _samples_file(tmp_path):
    bad = dict(_samples(1)[0], steps="not a list")
    return _with_bad_lines(tmp_path / "samples.jsonl", _samples(), bad)


CASES = {
    "label": lambda t, pol: (
        ["label", "--method", "verify", "--in", _samples_file(t)]
        + ["--out", t / "lab.jsonl", "--no-progress"]
    ),
    "prm train": lambda t, pol: (
        ["prm", "train", "--data", _samples_file(t), "--out", t / "prm"]
        + ["--steps", "1", "--no-progress"]
        + TINY_PRM
    ),
    "search --in": lambda t, pol: (
        ["search", "--in", _samples_file(t), "--method", "bon"]
        + ["--prm", "rule", "--n", "1", "--out", t / "r.jsonl", "--no-progress"]
    ),
    "sample": lambda t, pol: (
        ["sample", "--policy", pol, "--problems", _problems_file(t)]
        + ["--n", "1", "--out", t / "s.jsonl", "--no-progress"]
    ),
    "search": lambda t, pol: (
        ["search", "--policy", pol, "--problems", _problems_file(t)]
        + ["--method", "bon", "--prm", "rule", "--n", "2", "--out", t / "b.jsonl", "--no-progress"]
    ),
    "policy train": lambda t, pol: (
        ["policy", "train", "--problems", _problems_file(t)]
        + ["--out", t / "pol", "--steps", "1", "--eval-problems", "0", "--no-progress"]
        + TINY_PRM[:6]
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_record_stops_or_is_skipped_and_counted(tmp_path, capsys, tiny_policy, name):
    cmd = CASES[name](tmp_path, tiny_policy)
    path = cmd[
        cmd.index("--in" if "--in" in cmd else "--problems" if "--problems" in cmd else "--data")
        + 1
    ]
    code, _, err = run_cli(cmd, capsys)
    assert code == 2 and f"{path}:2: " in err, err
    code, out, err = run_cli(cmd + ["--skip-invalid"], capsys)
    assert code == 0, err
    assert last_json(out)["skipped"] == 2
    assert f"skipped: {path}:2:" in err and f"skipped: {path}:4: invalid JSON" in err
