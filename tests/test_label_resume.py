"""The labeling run: resumes after a real SIGKILL, repairs torn lines, reports bad input."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import last_json, run_cli
from test_label_methods import one_thread  # noqa: F401

import prmkit
from prmkit.data import Problem, read_jsonl, write_jsonl
from prmkit.grade import graded_sample
from prmkit.worlds import arithmetic as A


def make_samples(n_problems: int, seed: int = 1) -> list:
    """Right and wrong solutions (one mistake each) for generated problems."""
    rng = random.Random(seed)
    out = []
    for p in map(Problem.from_dict, A.generate(n_problems, seed=seed)):
        out.append(graded_sample(p, A.solve(p.prompt), f"{p.id}-ok"))
        out.append(graded_sample(p, A.corrupt(p.prompt, rng)[0], f"{p.id}-bad"))
    return out


N = 24  # samples: 12 problems, a right and a wrong solution each


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture()
def samples_file(tmp_path):
    p = tmp_path / "samples.jsonl"
    write_jsonl(p, make_samples(N // 2))
    return p


def args(policy, inp, out, *extra):
    return [
        "label",
        "--method",
        "mc",
        "--policy",
        policy,
        "--in",
        inp,
        "--out",
        out,
        "--k",
        2,
        "--max-new-tokens",
        16,
        "--no-progress",
        *extra,
    ]


def complete_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_sigkill_then_rerun_finishes_every_item_exactly_once(
    tiny_policy, samples_file, tmp_path, capsys
):
    clean = tmp_path / "clean.jsonl"
    code, _, err = run_cli(args(tiny_policy, samples_file, clean, "--chunk", 7), capsys)
    assert code == 0, err
    out = tmp_path / "out.jsonl"
    env = os.environ | {"PYTHONPATH": str(Path(prmkit.__file__).parents[1]), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "prmkit.cli",
        *map(str, args(tiny_policy, samples_file, out, "--chunk", 1)),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while complete_lines(out) < 3 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    before = complete_lines(out)
    assert 3 <= before < N
    done_ids = [
        json.loads(line)["id"] for line in out.read_text().splitlines() if line.endswith("}")
    ][:before]

    code, stdout, err = run_cli(args(tiny_policy, samples_file, out, "--chunk", 4), capsys)
    assert code == 0, err
    s = last_json(stdout)
    assert s["resumed"] == before and s["this_run"]["items"] == N - before  # nothing redone
    ids = [r["id"] for r in read_jsonl(out)]
    assert len(ids) == N and len(set(ids)) == N and set(done_ids) <= set(ids)
    assert out.read_bytes() == clean.read_bytes()  # same labels as a clean run, same order
    assert s["rollouts"] == sum(r["labels"]["provenance"]["rollouts"] for r in read_jsonl(clean))


def test_a_torn_last_line_is_cut_and_redone(tiny_policy, samples_file, tmp_path, capsys):
    clean = tmp_path / "clean.jsonl"
    assert run_cli(args(tiny_policy, samples_file, clean), capsys)[0] == 0
    lines = clean.read_bytes().splitlines(keepends=True)
    for tail, resumed in ((lines[3][: len(lines[3]) // 2], 3), (lines[3].rstrip(b"\n"), 4)):
        out = tmp_path / f"torn{resumed}.jsonl"
        out.write_bytes(b"".join(lines[:3]) + tail)
        code, stdout, err = run_cli(args(tiny_policy, samples_file, out, "--chunk", 16), capsys)
        assert code == 0, err
        assert last_json(stdout)["resumed"] == resumed
        assert out.read_bytes() == clean.read_bytes()


def test_verify_and_chunking_give_identical_files(samples_file, tmp_path, capsys):
    outs = []
    for chunk in (1, 64):
        out = tmp_path / f"v{chunk}.jsonl"
        assert (
            run_cli(
                [
                    "label",
                    "--method",
                    "verify",
                    "--in",
                    samples_file,
                    "--out",
                    out,
                    "--chunk",
                    chunk,
                    "--no-progress",
                ],
                capsys,
            )[0]
            == 0
        )
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    recs = read_jsonl(tmp_path / "v1.jsonl")
    assert all(r["labels"]["first_error"] == r["first_error"] for r in recs)
    # A YAML recipe names the input `in` (a Python keyword: the field is `in_`).
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"method: verify\nin: {samples_file}\nout: {tmp_path / 'v2.jsonl'}\nprogress: false\n"
    )
    assert run_cli(["label", "--config", recipe], capsys)[0] == 0
    assert (tmp_path / "v2.jsonl").read_bytes() == outs[0]


def test_bad_input_and_mismatched_outputs_are_file_line_errors(
    tiny_policy, samples_file, tmp_path, capsys
):
    lines = samples_file.read_text().splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines[:2] + ["{not json"] + lines[2:]) + "\n")
    code, _, err = run_cli(
        ["label", "--method", "verify", "--in", bad, "--out", tmp_path / "o.jsonl"], capsys
    )
    assert code == 2 and f"{bad}:3: invalid JSON" in err
    dup = tmp_path / "dup.jsonl"
    dup.write_text("\n".join(lines[:2] + [lines[0]]) + "\n")
    code, _, err = run_cli(
        ["label", "--method", "verify", "--in", dup, "--out", tmp_path / "o.jsonl"], capsys
    )
    assert code == 2 and f"{dup}:3: sample id" in err and "repeats line 1" in err
    odd = tmp_path / "odd.jsonl"
    rec = json.loads(lines[0]) | {"id": "weird", "prompt": "Start with 7, then ×2."}
    odd.write_text("\n".join(lines[:1] + [json.dumps(rec)]) + "\n")
    code, _, err = run_cli(args(tiny_policy, odd, tmp_path / "o2.jsonl"), capsys)
    assert code == 2 and f"{odd}:2:" in err and "vocabulary" in err
    code, _, err = run_cli(
        ["label", "--method", "verify", "--in", odd, "--out", tmp_path / "o3.jsonl"], capsys
    )
    assert code == 2 and f"{odd}:2: arithmetic verifier" in err
    # An output made by another method, or with another k, is not silently extended.
    v = tmp_path / "v.jsonl"
    assert (
        run_cli(
            ["label", "--method", "verify", "--in", samples_file, "--out", v, "--no-progress"],
            capsys,
        )[0]
        == 0
    )
    v.write_text("\n".join(v.read_text().splitlines()[:5]) + "\n")
    code, _, err = run_cli(args(tiny_policy, samples_file, v), capsys)
    assert code == 2 and f"{v}:1: holds labels of method 'verify'" in err
    m = tmp_path / "m.jsonl"
    assert run_cli(args(tiny_policy, samples_file, m, "--chunk", 64), capsys)[0] == 0
    code, _, err = run_cli(args(tiny_policy, samples_file, m, "--k", 3), capsys)
    assert code == 2 and "k=2, this run has k=3" in err
    code, _, err = run_cli(args(tiny_policy, samples_file, samples_file), capsys)
    assert code == 2 and "--out must differ from --in" in err
    code, _, err = run_cli(["label", "--method", "omega", "--in", samples_file, "--out", m], capsys)
    assert code == 2 and "needs --policy" in err
