"""Every numeric setting has a range, checked before a run; a missing extra names its pip install."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import math
import sys
import typing

import pytest

from prmkit.cli import COMMANDS, main
from prmkit.config import _base_type, build_config, flag_name, flags_of
from prmkit.data import InputError
from prmkit.extras import install_hint
from prmkit.ranges import in_range, range_message


def config_of(words):
    return importlib.import_module(f"prmkit.commands.{COMMANDS[words]}").Config


def numeric_fields(cls) -> list[str]:
    """Every numeric setting, a group's fields (--judge-timeout) with them."""
    return [f.name for f in flags_of(cls) if _base_type(f.hint)[0] in (int, float)]


def outside(spec: str) -> float:
    """A value just outside the range."""
    if spec.startswith((">", "<")):
        op, bound = spec.split()
        b = float(bound)
        return {">": b, ">=": b - 1, "<": b, "<=": b + 1}[op]
    lo, hi = (float(t) for t in spec[1:-1].split(","))
    return lo if spec[0] == "(" else lo - 1


def required_values(cls) -> dict:
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            tp, _ = _base_type(hints[f.name])
            out[f.name] = typing.get_args(tp)[0] if typing.get_origin(tp) is typing.Literal else "x"
    return out


def test_in_range_by_hand():
    assert in_range(0, ">= 0") and not in_range(0, "> 0") and in_range(0.5, "> 0")
    assert in_range(1, "(0, 1]") and not in_range(0, "(0, 1]") and not in_range(1.01, "(0, 1]")
    assert in_range(0, "[0, 1)") and not in_range(1, "[0, 1)") and in_range(65535, "[0, 65535]")
    assert not in_range(math.nan, ">= 0") and not in_range(math.nan, "any") and in_range(-5, "any")
    assert in_range(2, "<= 2") and not in_range(2, "< 2")
    assert range_message("--top-p", "(0, 1]") == "--top-p must lie in (0, 1]"
    assert range_message("--temperature", ">= 0") == "--temperature must be >= 0"


@pytest.mark.parametrize("words", list(COMMANDS), ids=" ".join)
def test_every_numeric_setting_has_a_range_and_it_is_enforced(words):
    cls = config_of(words)
    ranges = {f.name: f.range for f in flags_of(cls) if f.range is not None}
    missing = [n for n in numeric_fields(cls) if n not in ranges]
    assert not missing, f"prmkit {' '.join(words)}: numeric settings without a range: {missing}"
    for name, spec in ranges.items():
        if spec == "any":
            continue
        bad = outside(spec)
        ns = argparse.Namespace(**required_values(cls), **{name: bad})
        with pytest.raises(InputError) as e:
            build_config(cls, ns)
        assert str(e.value) == range_message(flag_name(name), spec), (name, bad)
        ns = argparse.Namespace(**required_values(cls), **{name: math.nan})
        with pytest.raises(InputError):
            build_config(cls, ns)


@pytest.mark.parametrize(
    "argv, line",
    [
        (
            ["sample", "--policy", "p", "--problems", "q", "--out", "o", "--temperature", "-1"],
            "prmkit sample: --temperature must be >= 0",
        ),
        (
            ["eval", "processbench", "--prm", "rule", "--data", "d", "--threshold", "5"],
            "prmkit eval processbench: --threshold must lie in [0, 1]",
        ),
        (
            ["rl", "--policy", "p", "--out", "o", "--temperature", "0"],
            "prmkit rl: --temperature must be > 0",
        ),
        (
            ["search", "--method", "bon", "--policy", "p", "--prm", "rule", "--problems", "q"]
            + ["--out", "o", "--top-p", "nan"],
            "prmkit search: --top-p must lie in (0, 1]",
        ),
    ],
)
def test_cli_answers_a_value_out_of_range_with_one_line(argv, line, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.strip() == line


def test_missing_extra_names_the_pip_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi -> ModuleNotFoundError
    for mod in [m for m in sys.modules if m.startswith("prmkit.serve.prm_server")]:
        monkeypatch.delitem(sys.modules, mod)
    assert main(["serve", "prm", "--model", "rule", "--port", "0", "--no-scorer-process"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "prmkit serve prm: needs the fastapi package, which is not installed: "
        "pip install 'prmkit[serve]'"
    ]


def test_install_hint_reads_the_extras():
    assert install_hint("fastapi") == "pip install 'prmkit[serve]'"
    assert install_hint("ray.util") == "pip install 'prmkit[ray]'"
    assert install_hint("some_other_package") == "pip install some_other_package"
