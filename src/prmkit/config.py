"""Fill a command's config dataclass from flags and, optionally, a YAML recipe.

Each field's docstring (the string literal under it) becomes its `--help` text, so
the dataclass is the single place where a flag is defined and documented.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import sys
import textwrap
import types
import typing
from pathlib import Path
from typing import Any

from prmkit.data import InputError
from prmkit.ranges import check_ranges, declared_ranges


def field_docs(cls: type) -> dict[str, str]:
    """{field name: the docstring written under it} for a dataclass (and its bases)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, nxt in zip(body, body[1:]):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def _base_type(tp: Any) -> tuple[Any, bool]:
    """(the type without Optional, whether None is allowed)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else str), True
    return tp, False


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error on one line and exits 2."""

    def error(self, message: str) -> typing.NoReturn:
        sys.stderr.write(f"{self.prog}: {message} (see --help)\n")
        sys.exit(2)


def flag_name(name: str) -> str:
    """A field's flag: `max_new_tokens` -> `--max-new-tokens`; `in_` (a Python keyword) -> `--in`."""
    return "--" + name.rstrip("_").replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    ranges = declared_ranges(cls)
    parser.add_argument(
        "--config", metavar="YAML", help="read these settings from a YAML recipe; flags override it"
    )
    for f in dataclasses.fields(cls):
        tp, optional = _base_type(hints[f.name])
        flag = flag_name(f.name)
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        default = (
            None
            if required
            else (f.default if f.default is not dataclasses.MISSING else f.default_factory())
        )
        help_ = docs.get(f.name, "")
        if not required:
            help_ += f" (default: {default})"
        if f.name in ranges and ranges[f.name] != "any":
            help_ += f" [{ranges[f.name]}]"
        if f.metadata.get("positional"):  # `prmkit data get NAME`: a word, not a flag
            choices = list(typing.get_args(tp)) if typing.get_origin(tp) is typing.Literal else None
            parser.add_argument(f.name, choices=choices, help=help_)
            continue
        kw: dict[str, Any] = {"help": help_, "dest": f.name, "default": argparse.SUPPRESS}
        if tp is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **kw)
            continue
        if typing.get_origin(tp) is typing.Literal:
            kw["choices"] = list(typing.get_args(tp))
            tp = type(kw["choices"][0])
        elif typing.get_origin(tp) is list:
            (inner,) = typing.get_args(tp)
            kw["nargs"] = "+"
            tp = inner
        parser.add_argument(flag, type=tp, metavar=f.name.rstrip("_").upper(), **kw)
        del optional


def _load_yaml(path: str) -> dict:
    import yaml

    p = Path(path)
    if not p.exists():
        raise InputError("no such file", path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError("not valid UTF-8", path) from None
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        raise InputError(
            f"invalid YAML: {getattr(e, 'problem', e)}", path, None if line is None else line + 1
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError("a recipe must be a mapping of setting: value", path, 1)
    return data


def build_config(cls: type, ns: argparse.Namespace) -> Any:
    """The dataclass from a YAML recipe (if --config) overlaid with the given flags."""
    values: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(cls)}
    cfg_path = getattr(ns, "config", None)
    if cfg_path:
        for k, v in _load_yaml(cfg_path).items():
            key = str(k).replace("-", "_")
            if key not in names and key + "_" in names:
                key += "_"
            if key not in names:
                raise InputError(
                    f"unknown setting {k!r}; known: {', '.join(sorted(names))}", cfg_path
                )
            values[key] = v
    values.update({k: v for k, v in vars(ns).items() if k in names})
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.name not in values
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        flags = ", ".join(flag_name(m) for m in missing)
        raise InputError(f"missing required setting(s): {flags}")
    try:
        cfg = cls(**values)
    except TypeError as e:
        raise InputError(str(e)) from None
    try:
        check_ranges(cfg, flag_name)
        check = getattr(cfg, "check", None)
        if check is not None:
            check()
    except ValueError as e:
        raise InputError(str(e)) from None
    return cfg
