import json

import pytest
from conftest import last_json, run_cli


def test_world_generate_and_same_seed(tmp_path, capsys):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    code, out, _ = run_cli(
        ["world", "generate", "--n", 20, "--seed", 3, "--out", a, "--min-ops", 3, "--max-ops", 3],
        capsys,
    )
    assert code == 0
    summary = last_json(out)
    assert summary["n"] == 20 and summary["out"] == str(a)
    run_cli(
        ["world", "generate", "--n", 20, "--seed", 3, "--out", b, "--min-ops", 3, "--max-ops", 3],
        capsys,
    )
    assert a.read_text() == b.read_text()
    assert all(json.loads(line)["prompt"].count(",") == 3 for line in a.read_text().splitlines())


def test_sample_is_graded_and_seeded(tmp_path, capsys, tiny_policy):
    probs = tmp_path / "p.jsonl"
    run_cli(["world", "generate", "--n", 6, "--out", probs], capsys)
    outs = []
    for name in ("s1.jsonl", "s2.jsonl"):
        code, out, _ = run_cli(
            [
                "sample",
                "--policy",
                tiny_policy,
                "--problems",
                probs,
                "--n",
                3,
                "--seed",
                1,
                "--out",
                tmp_path / name,
                "--no-progress",
            ],
            capsys,
        )
        assert code == 0, out
        outs.append((tmp_path / name).read_text())
        summary = last_json(out)
        assert summary["samples"] == 18
    assert outs[0] == outs[1]
    for line in outs[0].splitlines():
        s = json.loads(line)
        assert isinstance(s["correct"], bool) and s["first_error"] >= -1 and s["steps"]
        assert s["correct"] == (s["first_error"] == -1)


@pytest.mark.parametrize(
    "content, expect",
    [
        (
            b'{"id": "a", "prompt": "Start with 1, then +1.", "answer": "2"}\n{"id": "b", "prom',
            ":2: invalid JSON",
        ),
        (b'{"id": "a", "answer": "2"}\n', ":1: missing field 'prompt'"),
        (
            b'{"id": "a", "prompt": ["x"], "answer": "2"}\n',
            ":1: field 'prompt' must be str, got list",
        ),
        (b'{"id": "a", "prompt": "Start \xff", "answer": "2"}\n', ":1: not valid UTF-8"),
        (
            b'{"id": "a", "prompt": "What is 2+2?", "answer": "4"}\n',
            ":1: not an arithmetic-world prompt",
        ),
    ],
)
def test_bad_problems_file_one_line_error(tmp_path, capsys, content, expect):
    p = tmp_path / "bad.jsonl"
    p.write_bytes(content)
    code, out, err = run_cli(
        ["policy", "train", "--problems", p, "--out", tmp_path / "pol", "--steps", 1], capsys
    )
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {p}") and expect in lines[0]
    assert "Traceback" not in err


def test_empty_step_list_is_rejected(tmp_path, capsys, tiny_policy):
    # `prmkit sample` reads problems; a samples file with an empty step list is caught by the reader.
    from prmkit.data import InputError, Sample, read_jsonl

    p = tmp_path / "s.jsonl"
    p.write_text('{"id": "x", "problem_id": "p", "prompt": "q", "reference": "1", "steps": []}\n')
    with pytest.raises(InputError, match=r"s.jsonl:1: field 'steps' is an empty list"):
        read_jsonl(p, Sample.from_dict)


def test_unknown_flag_and_command(capsys):
    code, _, err = run_cli(["world", "generate", "--out", "x.jsonl", "--bogus", 1], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--bogus" in err
    code, _, err = run_cli(["nosuch"], capsys)
    assert code == 2 and "unknown command" in err


def test_help_lists_commands_and_flags(capsys):
    code, out, _ = run_cli(["--help"], capsys)
    assert code == 0 and "world generate" in out and "policy train" in out
    code, out, _ = run_cli(["sample", "--help"], capsys)
    assert code == 0
    assert "samples per problem" in out and "--top-p" in out


def test_yaml_recipe_and_bad_recipe(tmp_path, capsys):
    r = tmp_path / "r.yaml"
    r.write_text("n: 5\nseed: 2\n")
    out_file = tmp_path / "o.jsonl"
    code, out, _ = run_cli(["world", "generate", "--config", r, "--out", out_file], capsys)
    assert code == 0 and last_json(out)["n"] == 5
    r.write_text("n: 5\nbogus: 1\n")
    code, _, err = run_cli(["world", "generate", "--config", r, "--out", out_file], capsys)
    assert code == 2 and "unknown setting 'bogus'" in err and str(r) in err


def test_missing_checkpoint_kind(tmp_path, capsys):
    (tmp_path / "config.json").write_text('{"kind": "prm"}')
    probs = tmp_path / "p.jsonl"
    run_cli(["world", "generate", "--n", 2, "--out", probs], capsys)
    code, _, err = run_cli(
        ["sample", "--policy", tmp_path, "--problems", probs, "--out", tmp_path / "s.jsonl"], capsys
    )
    assert code == 2 and "kind 'prm'" in err
