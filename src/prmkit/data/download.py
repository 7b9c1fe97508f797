"""Public data sets by name: where they live, and how to fetch them (standard library only).

`SOURCES` maps a name (`prmkit data get NAME`) to its files: the public URL of each and
the name it is written under. The layouts are those the commands read:
`eval processbench --data DIR` takes a folder of the four ProcessBench splits,
`convert --from gsm8k` and `world` read GSM8K's JSONL, MATH-500 is JSONL of
{problem, solution, answer, subject, level, unique_id}.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path

_HF = "https://huggingface.co/datasets"
_GH = "https://raw.githubusercontent.com"


@dataclass(frozen=True)
class Source:
    """One public data set: files {name on disk: URL}, where it comes from, its license."""

    files: dict[str, str]
    page: str
    license: str
    cite: str


SOURCES: dict[str, Source] = {
    "processbench": Source(
        files={
            f"{s}.json": f"{_HF}/Qwen/ProcessBench/resolve/main/{s}.json"
            for s in ("gsm8k", "math", "olympiadbench", "omnimath")
        },
        page=f"{_HF}/Qwen/ProcessBench",
        license="Apache-2.0",
        cite="Zheng et al. 2024, ProcessBench: Identifying Process Errors in Mathematical Reasoning",
    ),
    "gsm8k": Source(
        files={
            f"{s}.jsonl": f"{_GH}/openai/grade-school-math/master/grade_school_math/data/{s}.jsonl"
            for s in ("train", "test")
        },
        page="https://github.com/openai/grade-school-math",
        license="MIT",
        cite="Cobbe et al. 2021, Training Verifiers to Solve Math Word Problems",
    ),
    "math": Source(
        files={"test.jsonl": f"{_HF}/HuggingFaceH4/MATH-500/resolve/main/test.jsonl"},
        page=f"{_HF}/HuggingFaceH4/MATH-500",
        license="MIT (MATH, Hendrycks et al. 2021)",
        cite="Hendrycks et al. 2021 (MATH); Lightman et al. 2023 (the MATH-500 test subset)",
    ),
}


class Offline(ConnectionError):
    """The machine cannot reach a source; `hint` says how to place the files by hand."""

    def __init__(self, name: str, out: Path, why: str) -> None:
        self.hint = manual_hint(name, out)
        super().__init__(f"cannot download {name} ({why}); {self.hint}")


def manual_hint(name: str, out: Path) -> str:
    """One line: which files to download by hand, from where, and where to put them."""
    src = SOURCES[name]
    files = ", ".join(f"{url} as {out / fname}" for fname, url in src.files.items())
    return f"on a machine that is online, download {files}"


def fetch(url: str, dest: Path, timeout: float = 60.0) -> int:
    """Download url to dest (through a temporary file, so a failed download leaves
    nothing half-written); returns its size in bytes. Honours HF_TOKEN for the hub."""
    headers = {"User-Agent": "prmkit-data-get"}
    token = os.environ.get("HF_TOKEN")
    if token and url.startswith("https://huggingface.co/"):
        headers["Authorization"] = f"Bearer {token}"
    tmp = dest.with_name(dest.name + ".part")
    req = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(req, timeout=timeout) as r, open(tmp, "wb") as f:
        shutil.copyfileobj(r, f)
    tmp.replace(dest)
    return dest.stat().st_size


def check_file(path: Path) -> int:
    """Records in a downloaded file (a JSON list, or JSONL); ValueError if it is neither."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        return len(json.loads(text))
    return sum(1 for line in text.splitlines() if line.strip() and json.loads(line) is not None)


def get(name: str, out: str | Path, force: bool = False, fetcher=None) -> dict[str, int]:
    """Download every file of `name` into out with `fetcher(url, dest)` (default
    `fetch`); {file name: records}. Files already there are kept unless force. Raises
    Offline when a source cannot be reached."""
    fetcher = fetcher or fetch
    if name not in SOURCES:
        raise ValueError(f"unknown data set {name!r}; choose from {sorted(SOURCES)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for fname, url in SOURCES[name].files.items():
        dest = out / fname
        if force or not dest.exists():
            try:
                fetcher(url, dest)
            except (urllib.error.URLError, TimeoutError, ConnectionError, HTTPException) as e:
                raise Offline(name, out, str(getattr(e, "reason", e))) from None
        counts[fname] = check_file(dest)
    return counts
