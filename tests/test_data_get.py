"""`prmkit data get`: the public files by name; never the network in tests (fetch is mocked)."""

import json
import shutil
import urllib.error
from pathlib import Path

import pytest
from conftest import last_json, run_cli

from prmkit.data import download
from prmkit.data.converters import read_samples

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
PB_RECORD = {
    "id": "gsm8k-0",
    "generator": "m",
    "problem": "What is 3 + 4?",
    "steps": ["3 + 4 = 7.", "The answer is \\boxed{7}."],
    "final_answer_correct": True,
    "label": -1,
}


def fake_fetch(log):
    """Writes a small file of the right shape for each URL, and logs the call."""

    def fetch(url, dest):
        log.append((url, dest.name))
        if dest.suffix == ".json":
            dest.write_text(json.dumps([PB_RECORD, PB_RECORD]))
        else:
            dest.write_text(
                json.dumps({"question": "q", "answer": "1+1=<<1+1=2>>2\n#### 2"}) + "\n"
            )
        return dest.stat().st_size

    return fetch


def test_get_writes_the_layout_and_keeps_files(tmp_path):
    log = []
    counts = download.get("processbench", tmp_path / "pb", fetcher=fake_fetch(log))
    assert counts == {f"{s}.json": 2 for s in ("gsm8k", "math", "olympiadbench", "omnimath")}
    assert log[0] == (
        "https://huggingface.co/datasets/Qwen/ProcessBench/resolve/main/gsm8k.json",
        "gsm8k.json",
    )
    assert len(read_samples(tmp_path / "pb" / "math.json")) == 2  # what eval processbench reads
    download.get("processbench", tmp_path / "pb", fetcher=fake_fetch(log))
    assert len(log) == 4  # already there: not fetched again
    download.get("processbench", tmp_path / "pb", force=True, fetcher=fake_fetch(log))
    assert len(log) == 8
    download.get("gsm8k", tmp_path / "g", fetcher=fake_fetch(log))
    assert log[-1] == (
        "https://raw.githubusercontent.com/openai/grade-school-math/master/grade_school_math/data/test.jsonl",
        "test.jsonl",
    )
    assert read_samples(tmp_path / "g" / "test.jsonl")[0].reference == "2"  # what convert reads


def offline(url, dest):
    raise urllib.error.URLError("[Errno -2] Name or service not known")


def test_offline_says_how_to_place_the_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(download, "fetch", offline)
    code, out, err = run_cli(["data", "get", "math", "--out", tmp_path / "m"], capsys)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    want = f"https://huggingface.co/datasets/HuggingFaceH4/MATH-500/resolve/main/test.jsonl as {tmp_path / 'm' / 'test.jsonl'}"
    assert "cannot download math" in lines[0] and want in lines[0]
    assert not (tmp_path / "m" / "test.jsonl").exists()


def test_cli_unknown_name_and_corrupt_download(tmp_path, monkeypatch, capsys):
    code, _, err = run_cli(["data", "get", "mnist", "--out", tmp_path], capsys)
    assert code == 2 and "invalid choice" in err
    monkeypatch.setattr(download, "fetch", lambda url, dest: dest.write_text("<html>"))
    code, _, err = run_cli(["data", "get", "math", "--out", tmp_path / "m"], capsys)
    assert code == 2 and "not valid JSON" in err and "--force" in err


def local_copy(url, dest):
    """Serves a URL from ../shared/data instead of the network."""
    folder = "processbench" if "ProcessBench" in url else "gsm8k"
    shutil.copy(SHARED / folder / dest.name, dest)


@pytest.mark.skipif(not (SHARED / "processbench").is_dir(), reason="no local copies")
def test_cli_with_the_local_copies(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(download, "fetch", local_copy)
    code, out, err = run_cli(["data", "get", "processbench", "--out", tmp_path / "pb"], capsys)
    assert code == 0, err
    s = last_json(out)
    assert s["files"] == {
        "gsm8k.json": 400,
        "math.json": 1000,
        "olympiadbench.json": 1000,
        "omnimath.json": 1000,
    }
    assert s["license"] == "Apache-2.0" and s["source"].endswith("Qwen/ProcessBench")
    code, out, err = run_cli(["data", "get", "gsm8k", "--out", tmp_path / "g"], capsys)
    assert code == 0 and last_json(out)["files"] == {"train.jsonl": 7473, "test.jsonl": 1319}
