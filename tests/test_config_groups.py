"""A Config field made by `group(PREFIX, Options)`: its options are flags --PREFIX-NAME."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import ClassVar

import pytest

from prmkit.commands.label import Config as LabelConfig
from prmkit.config import OneLineParser, add_arguments, build_config, flags_of, group
from prmkit.data import InputError
from prmkit.label.options import MISTAKES, JudgeOptions, PerturbOptions


@dataclass
class Opts:
    RANGES: ClassVar[dict[str, str]] = {"rate": "[0, 1]"}
    rate: float = 0.5
    """how often"""
    name: str = "x"
    """what to call it"""


@dataclass(kw_only=True)
class Cfg:
    path: str
    """a file"""
    opts: Opts = group("opt", Opts)
    """the options"""
    last: int = 1
    """after the group"""


def parse(argv: list[str], cls=Cfg):
    parser = OneLineParser(prog="t")
    add_arguments(parser, cls)
    return build_config(cls, parser.parse_args(argv))


def test_group_fields_become_prefixed_flags_in_place_with_help_and_range():
    flags = flags_of(Cfg)
    assert [f.name for f in flags] == ["path", "opt_rate", "opt_name", "last"]
    parser = OneLineParser(prog="t")
    add_arguments(parser, Cfg)
    text = parser.format_help()
    assert "--opt-rate OPT_RATE opt: how often (default: 0.5) [[0, 1]]" in " ".join(text.split())
    assert "opt: what to call it (default: x)" in " ".join(text.split())


def test_group_flags_fill_the_options_and_unset_ones_keep_their_defaults():
    cfg = parse(["--path", "p", "--opt-rate", "0.25"])
    assert cfg.opts == Opts(rate=0.25, name="x") and cfg.last == 1
    assert parse(["--path", "p"]).opts == Opts()


def test_group_range_is_checked_under_the_prefixed_flag():
    with pytest.raises(InputError, match="--opt-rate must lie in"):
        parse(["--path", "p", "--opt-rate", "2"])


def test_a_recipe_sets_group_fields_by_their_prefixed_keys(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("path: p\nopt_name: y\nopt-rate: 0.1\n")
    cfg = build_config(Cfg, argparse.Namespace(config=str(recipe), opt_rate=0.2))
    assert cfg.opts == Opts(rate=0.2, name="y")  # the flag overrides the recipe


def test_label_judge_flags_fill_judge_options():
    cfg = parse(
        ["--method", "judge", "--in", "a", "--out", "b", "--judge-url", "http://h/v1"]
        + ["--judge-retries", "5", "--omega-after", "truncate"],
        LabelConfig,
    )
    assert cfg.job().judge == JudgeOptions(url="http://h/v1", retries=5)
    assert cfg.job().omega.after == "truncate" and cfg.job().omega.early_stop
    with pytest.raises(InputError, match="--judge-timeout must be > 0"):
        parse(
            ["--method", "verify", "--in", "a", "--out", "b", "--judge-timeout", "0"], LabelConfig
        )


def test_label_perturb_mistakes_is_one_comma_separated_flag_or_recipe_key(tmp_path):
    base = ["--method", "perturb", "--in", "a", "--out", "b"]
    cfg = parse(
        base + ["--perturb-mistakes", "copy, unit", "--perturb-correct", "0.5"], LabelConfig
    )
    assert cfg.job().perturb == PerturbOptions(correct=0.5, mistakes=("copy", "unit"))
    assert parse(base, LabelConfig).perturb.mistakes == MISTAKES
    recipe = tmp_path / "r.yaml"
    recipe.write_text("perturb_mistakes: arithmetic,skip\n")
    cfg = build_config(
        LabelConfig,
        argparse.Namespace(
            config=str(recipe), **dict(zip(["method", "in_", "out"], ["perturb", "a", "b"]))
        ),
    )
    assert cfg.perturb.mistakes == ("arithmetic", "skip")
    with pytest.raises(InputError, match="--perturb-mistakes takes kinds from"):
        parse(base + ["--perturb-mistakes", "copy,typo"], LabelConfig)
