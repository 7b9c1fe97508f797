import json

import pytest

from prmkit.data import InputError, Problem, Sample, read_jsonl, write_jsonl
from prmkit.data.formats import from_processbench, from_trl, to_processbench, to_trl


def _sample(**kw):
    d = {
        "id": "a",
        "problem_id": "p",
        "prompt": "Start with 1, then +1.",
        "reference": "2",
        "steps": ["1+1=2", "Answer: 2"],
        "first_error": -1,
        "correct": True,
    }
    d.update(kw)
    return d


def test_roundtrip(tmp_path):
    s = Sample.from_dict(
        _sample(
            labels={
                "first_error": 1,
                "hard": [True, False],
                "soft": [0.5, 0.0],
                "provenance": {"method": "mc", "k": 4},
            }
        )
    )
    p = tmp_path / "s.jsonl"
    write_jsonl(p, [s, s])
    back = read_jsonl(p, Sample.from_dict)
    assert back == [s, s]
    assert back[0].labels.provenance["k"] == 4


@pytest.mark.parametrize(
    "content, msg",
    [
        ('{"id": "a", "prompt": "x", "answer": "1"}\n{"id": "b", "prompt": "y"', "2: invalid JSON"),
        ('{"id": "a", "answer": "1"}\n', "1: missing field 'prompt'"),
        ('{"id": "a", "prompt": 3, "answer": "1"}\n', "1: field 'prompt' must be str, got int"),
        ('{"id": "a", "prompt": "x", "answer": true}\n', "field 'answer' must be"),
        ("[1, 2]\n", "1: a problem must be a JSON object"),
    ],
)
def test_bad_problem_lines(tmp_path, content, msg):
    p = tmp_path / "bad.jsonl"
    p.write_text(content)
    with pytest.raises(InputError) as e:
        read_jsonl(p, Problem.from_dict)
    assert str(e.value).startswith(str(p) + ":")
    assert msg in str(e.value)


def test_bad_sample_lines(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text(json.dumps(_sample()) + "\n" + json.dumps(_sample(steps=[])) + "\n")
    with pytest.raises(InputError, match=r"s.jsonl:2: field 'steps' is an empty list"):
        read_jsonl(p, Sample.from_dict)
    p.write_text(json.dumps(_sample(labels={"first_error": 0, "soft": [1.5, 0]})) + "\n")
    with pytest.raises(InputError, match=r":1: .*\[0, 1\]"):
        read_jsonl(p, Sample.from_dict)
    p.write_text(json.dumps(_sample(labels={"first_error": 0, "hard": [True]})) + "\n")
    with pytest.raises(InputError, match=r":1: labels.hard has 1 entries for 2 steps"):
        read_jsonl(p, Sample.from_dict)


def test_non_utf8_and_empty(tmp_path):
    p = tmp_path / "b.jsonl"
    p.write_bytes(b'{"id": "a", "prompt": "x", "answer": "1"}\n{"id": "\xff"}\n')
    with pytest.raises(InputError, match=r"b.jsonl:2: not valid UTF-8"):
        read_jsonl(p, Problem.from_dict)
    p.write_text("\n\n")
    with pytest.raises(InputError, match="no records"):
        read_jsonl(p, Problem.from_dict)
    with pytest.raises(InputError, match="no such file"):
        read_jsonl(tmp_path / "missing.jsonl")


def test_trl_and_processbench_roundtrip():
    s = Sample.from_dict(_sample(steps=["1+1=3", "Answer: 3"], first_error=0, correct=False))
    trl = to_trl(s)
    assert trl == {"prompt": s.prompt, "completions": s.steps, "labels": [False, False]}
    back = from_trl(trl)
    assert back.first_error == 0 and back.labels.hard == [False, False]
    pb = to_processbench(s)
    assert pb["label"] == 0 and pb["steps"] == s.steps and pb["problem"] == s.prompt
    assert from_processbench(pb).first_error == 0
    with pytest.raises(ValueError, match="out of range"):
        from_processbench({"id": "x", "problem": "q", "steps": ["a"], "label": 3})
    with pytest.raises(ValueError, match="2 labels for 1 completions"):
        from_trl({"prompt": "q", "completions": ["a"], "labels": [True, False]})
