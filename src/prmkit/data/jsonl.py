"""JSONL reading and writing that validates every line.

A bad line stops the read with `FILE:LINE: what is wrong` (an `InputError`); no line
is ever skipped in silence.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

from prmkit.data.errors import InputError

T = TypeVar("T")


def iter_jsonl(
    path: str | os.PathLike,
    parse: Callable[[Any], T] | None = None,
    invalid: list[InputError] | None = None,
) -> Iterator[T]:
    """Yield each line of a JSONL file, parsed by `parse` (a `from_dict`), validated.

    Blank lines are allowed and skipped. Raises InputError naming file and line for a
    missing file, bad UTF-8, bad JSON (a truncated last line included) or a record
    that `parse` rejects. With `invalid` (a list), a bad line is appended to it as
    its InputError and skipped instead (`--skip-invalid`); a missing file still raises.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", str(path))
    if p.is_dir():
        raise InputError("is a directory, expected a JSONL file", str(path))
    with open(p, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                if not raw.strip():
                    continue
                obj = parse_line(raw, str(path), lineno)
                yield obj if parse is None else _apply(parse, obj, str(path), lineno)
            except InputError as e:
                if invalid is None:
                    raise
                invalid.append(e)


def parse_line(raw: bytes, path: str, lineno: int) -> Any:
    """One JSONL line's object, or InputError naming the file and line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"not valid UTF-8 (byte {e.start})", path, lineno) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        hint = " (truncated line?)" if not text.endswith("\n") else ""
        raise InputError(f"invalid JSON: {e.msg}{hint}", path, lineno) from None


def _apply(parse: Callable[[Any], T], obj: Any, path: str, lineno: int) -> T:
    try:
        return parse(obj)
    except (ValueError, TypeError, KeyError) as e:
        raise InputError(str(e), path, lineno) from None


def read_jsonl(
    path: str | os.PathLike,
    parse: Callable[[Any], T] | None = None,
    invalid: list[InputError] | None = None,
) -> list[T]:
    """All records of a JSONL file; see `iter_jsonl`. An empty file is an error."""
    out = list(iter_jsonl(path, parse, invalid))
    if not out:
        raise InputError("file has no records", str(path))
    return out


class Record(Protocol):
    """A record type of prmkit (Problem, Sample, SearchRecord, ...): JSON through `to_dict`."""

    def to_dict(self) -> dict: ...


def _plain(r: dict | Record) -> dict:
    """A JSON object: a dict as it is, a record through its `to_dict`."""
    return r if isinstance(r, dict) else r.to_dict()


def write_jsonl(path: str | os.PathLike, records: Iterable[dict | Record]) -> int:
    """Write records (dicts or `Record`s) atomically; returns the count."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    n = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(_plain(r), ensure_ascii=False) + "\n")
            n += 1
    os.replace(tmp, p)
    return n


def append_jsonl(f, records: Iterable[dict | Record]) -> None:
    """Append records to an open text file and flush to disk, for resumable runs."""
    for r in records:
        f.write(json.dumps(_plain(r), ensure_ascii=False) + "\n")
    f.flush()
    os.fsync(f.fileno())
