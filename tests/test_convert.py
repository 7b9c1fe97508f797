"""`prmkit convert` between prmkit, TRL, ProcessBench, Math-Shepherd, PRM800K and GSM8K."""

import json
from pathlib import Path

import pytest
from conftest import last_json, run_cli

from prmkit.data import Sample, read_jsonl
from prmkit.data.converters import from_math_shepherd, from_prm800k, read_samples

PRM800K = {
    "labeler": "x",
    "question": {"problem": "What is 2+3*4?", "ground_truth_answer": "14"},
    "label": {
        "steps": [
            {
                "completions": [{"text": "3*4=12.", "rating": 1}, {"text": "2+3=5.", "rating": -1}],
                "human_completion": None,
                "chosen_completion": 0,
            },
            {
                "completions": [{"text": "Let me add.", "rating": 0}],
                "human_completion": None,
                "chosen_completion": 0,
            },
            {
                "completions": [{"text": "2+12=15.", "rating": -1}],
                "human_completion": None,
                "chosen_completion": None,
            },
        ],
        "finish_reason": "found_error",
    },
}

MS = {
    "input": "Tom has 3 apples and buys 2. How many? Step 1: 3+2=5 ки\nStep 2: He has 6 apples. ки\nStep 3: The answer is: 6 ки",
    "label": "Tom has 3 apples and buys 2. How many? Step 1: 3+2=5 +\nStep 2: He has 6 apples. -\nStep 3: The answer is: 6 -",
    "task": "GSM8K",
}


def _write(path, recs):
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8"
    )
    return path


def test_prm800k_neutral_flag():
    pos = from_prm800k(PRM800K, neutral="positive")
    assert pos.steps == ["3*4=12.", "Let me add.", "2+12=15."]
    assert pos.labels.hard == [True, True, False] and pos.first_error == 2
    neg = from_prm800k(PRM800K, neutral="negative")
    assert neg.labels.hard == [True, False, False] and neg.first_error == 1
    assert neg.labels.provenance == {"source": "prm800k", "neutral": "negative"}
    assert pos.reference == "14" and pos.correct is False


def test_math_shepherd_tags():
    s = from_math_shepherd(MS)
    assert s.prompt == "Tom has 3 apples and buys 2. How many?"
    assert s.steps == ["3+2=5", "He has 6 apples.", "The answer is: 6"]
    assert s.labels.hard == [True, False, False] and s.first_error == 1
    with pytest.raises(ValueError, match="expected '\\+' or '-'"):
        from_math_shepherd({"input": MS["input"], "label": MS["label"].replace("5 +", "5 ?")})


def test_round_trips_through_every_writable_format(tmp_path, capsys):
    src = _write(
        tmp_path / "ms.jsonl",
        [
            MS,
            {
                **MS,
                "input": MS["input"].replace("Tom", "Ann"),
                "label": MS["label"].replace("Tom", "Ann"),
            },
        ],
    )
    code, out, err = run_cli(
        [
            "convert",
            "--from",
            "math-shepherd",
            "--to",
            "prmkit",
            "--in",
            src,
            "--out",
            tmp_path / "a.jsonl",
        ],
        capsys,
    )
    assert code == 0, err
    assert last_json(out)["records"] == 2
    base = read_jsonl(tmp_path / "a.jsonl", Sample.from_dict)
    for fmt, ext in (
        ("trl", "jsonl"),
        ("processbench", "json"),
        ("processbench", "jsonl"),
        ("math-shepherd", "jsonl"),
    ):
        mid = tmp_path / f"mid-{fmt}.{ext}"
        assert (
            run_cli(
                [
                    "convert",
                    "--from",
                    "prmkit",
                    "--to",
                    fmt,
                    "--in",
                    tmp_path / "a.jsonl",
                    "--out",
                    mid,
                ],
                capsys,
            )[0]
            == 0
        )
        if ext == "json":
            assert isinstance(json.loads(mid.read_text()), list)  # the official ProcessBench layout
        back = read_samples(mid)  # auto-detected
        assert [(s.prompt, s.steps, s.labels.first_error) for s in back] == [
            (s.prompt, s.steps, s.labels.first_error) for s in base
        ]
        if fmt in ("trl", "math-shepherd"):
            assert [s.labels.hard for s in back] == [s.labels.hard for s in base]


def test_prm800k_file_and_gsm8k_file(tmp_path, capsys):
    src = _write(tmp_path / "p.jsonl", [PRM800K])
    code, out, _ = run_cli(
        [
            "convert",
            "--from",
            "prm800k",
            "--to",
            "trl",
            "--in",
            src,
            "--out",
            tmp_path / "t.jsonl",
            "--neutral",
            "negative",
        ],
        capsys,
    )
    assert code == 0
    assert json.loads((tmp_path / "t.jsonl").read_text())["labels"] == [True, False, False]
    gsm = _write(
        tmp_path / "gsm.jsonl",
        [
            {
                "question": "Natalia sold 48 clips in April and half as many in May. How many in all?",
                "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips.\n#### 72",
            },
            {"question": "q2", "answer": "It costs $1,200.\n#### 1,200"},
        ],
    )
    code, out, err = run_cli(
        [
            "convert",
            "--from",
            "gsm8k",
            "--to",
            "prmkit",
            "--in",
            gsm,
            "--out",
            tmp_path / "g.jsonl",
        ],
        capsys,
    )
    assert code == 0, err
    a, b = read_jsonl(tmp_path / "g.jsonl", Sample.from_dict)
    assert a.steps == [  # kept as written: the calculator annotations and the answer line
        "Natalia sold 48/2 = <<48/2=24>>24 clips in May.",
        "Natalia sold 48+24 = <<48+24=72>>72 clips.",
        "#### 72",
    ]
    assert a.reference == a.final_answer == "72" and a.correct and a.first_error == -1
    assert b.reference == "1200"


def test_bad_records_name_file_and_line(tmp_path, capsys):
    src = _write(tmp_path / "ms.jsonl", [MS, {"input": "no tags here", "label": "x"}])
    code, _, err = run_cli(
        [
            "convert",
            "--from",
            "math-shepherd",
            "--to",
            "prmkit",
            "--in",
            src,
            "--out",
            tmp_path / "o.jsonl",
        ],
        capsys,
    )
    assert code == 2 and f"{src}:2: field 'input' has no 'ки' step tags" in err
    gsm = _write(tmp_path / "g.jsonl", [{"question": "q", "answer": "no final line"}])
    code, _, err = run_cli(
        [
            "convert",
            "--from",
            "gsm8k",
            "--to",
            "prmkit",
            "--in",
            gsm,
            "--out",
            tmp_path / "o.jsonl",
        ],
        capsys,
    )
    assert code == 2 and f"{gsm}:1: field 'answer' must end with" in err
    code, _, err = run_cli(
        [
            "convert",
            "--from",
            "prmkit",
            "--to",
            "gsm8k",
            "--in",
            gsm,
            "--out",
            tmp_path / "o.jsonl",
        ],
        capsys,
    )
    assert code == 2 and "--to" in err
    lst = tmp_path / "pb.json"
    lst.write_text(json.dumps([{"id": 1, "problem": "p", "steps": ["a"], "label": 3}]))
    code, _, err = run_cli(
        ["convert", "--from", "auto", "--to", "trl", "--in", lst, "--out", tmp_path / "o.jsonl"],
        capsys,
    )
    assert code == 2 and "record 1: label 3 out of range" in err


GSM_REF = {
    "question": "Natalia sold 48 clips in April and half as many in May. How many in all?",
    "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips.\n#### 72",
}


def _verify(tmp_path, capsys, samples_path):
    code, out, err = run_cli(
        ["label", "--method", "verify", "--world", "gsm8k", "--in", samples_path]
        + ["--out", tmp_path / "lab.jsonl", "--no-progress"],
        capsys,
    )
    assert code == 0, err
    return last_json(out)


def test_converted_gsm8k_references_verify_as_correct(tmp_path, capsys):
    bad = dict(GSM_REF, answer=GSM_REF["answer"].replace("=72>>", "=73>>"))
    src = _write(tmp_path / "gsm.jsonl", [GSM_REF, bad])
    code, _, err = run_cli(
        ["convert", "--from", "gsm8k", "--to", "prmkit", "--in", src]
        + ["--out", tmp_path / "g.jsonl"],
        capsys,
    )
    assert code == 0, err
    s = _verify(tmp_path, capsys, tmp_path / "g.jsonl")
    # the reference holds; the one with a broken annotation is caught at its step
    assert s["items"] == 2 and s["with_error"] == 1
    rows = read_jsonl(tmp_path / "lab.jsonl", Sample.from_dict)
    assert rows[0].labels.first_error == -1 and rows[1].labels.first_error == 1


REAL_GSM8K = Path(__file__).resolve().parents[1] / "../shared/data/gsm8k/test.jsonl"


@pytest.mark.skipif(not REAL_GSM8K.exists(), reason="needs ../shared/data/gsm8k")
def test_real_gsm8k_references_all_verify(tmp_path, capsys):
    lines = REAL_GSM8K.read_text().splitlines()[:200]
    src = tmp_path / "g200.jsonl"
    src.write_text("\n".join(lines) + "\n")
    code, _, err = run_cli(
        ["convert", "--from", "gsm8k", "--to", "prmkit", "--in", src]
        + ["--out", tmp_path / "g.jsonl"],
        capsys,
    )
    assert code == 0, err
    s = _verify(tmp_path, capsys, tmp_path / "g.jsonl")
    assert s["items"] == 200 and s["with_error"] == 0


def test_gsm8k_model_solution_layout(tmp_path, capsys):
    rec = {
        "id": "p7",
        "question": GSM_REF["question"],
        "answer": GSM_REF["answer"],
        "llama": {"solution": "48/2 = 24.\n48 + 24 = 72.\nThe answer is 72.", "is_correct": True},
        "qwen": {"solution": "48/2 = 24.\n48 + 24 = 70.\nA: 70", "is_correct": False},
    }
    src = _write(tmp_path / "m.jsonl", [rec, {"question": "q", "m": {"solution": 3}}])
    code, _, err = run_cli(
        ["convert", "--from", "auto", "--to", "prmkit", "--in", src]
        + ["--out", tmp_path / "m_out.jsonl"],
        capsys,
    )
    assert code == 2 and f"{src}:2: field 'm.solution' must be a non-empty string" in err
    code, out, err = run_cli(
        ["convert", "--from", "gsm8k", "--to", "prmkit", "--in", src, "--skip-invalid"]
        + ["--out", tmp_path / "m_out.jsonl"],
        capsys,
    )
    assert code == 0, err
    assert last_json(out)["skipped"] == 1 and last_json(out)["records"] == 2
    a, b = read_jsonl(tmp_path / "m_out.jsonl", Sample.from_dict)
    assert (a.id, a.problem_id, a.reference, a.correct) == ("p7-llama", "p7", "72", True)
    assert b.steps == ["48/2 = 24.", "48 + 24 = 70.", "A: 70"] and b.correct is False
    assert b.meta == {"world": "gsm8k", "model": "qwen"}
    _verify(tmp_path, capsys, tmp_path / "m_out.jsonl")
    rows = read_jsonl(tmp_path / "lab.jsonl", Sample.from_dict)
    assert rows[0].labels.first_error == -1  # `The answer is 72` is read
    assert rows[1].labels.first_error == 1  # the free-text checker finds 48 + 24 = 70


def test_convert_detects_the_input_format_by_default(tmp_path, capsys):
    src = tmp_path / "ms.jsonl"
    src.write_text(json.dumps(MS) + "\n")
    code, out, err = run_cli(
        ["convert", "--to", "prmkit", "--in", src, "--out", tmp_path / "a.jsonl"], capsys
    )
    assert code == 0, err
    summary = last_json(out)
    assert summary["from"] == "auto" and summary["records"] == 1
    assert read_jsonl(tmp_path / "a.jsonl", Sample.from_dict)[0].steps
