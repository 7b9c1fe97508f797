"""Fill a command's config dataclass from flags and, optionally, a YAML recipe.

Each field's docstring (the string literal under it) becomes its `--help` text, so
the dataclass is the single place where a flag is defined and documented.

A field made by `group(PREFIX, Options)` holds a library options dataclass: each of
its fields is a flag `--PREFIX-NAME` (a recipe key PREFIX_NAME) with the help
`PREFIX: its docstring` and the range `Options.RANGES` gives it, so a method's
options are defined once, in the library, and the command only names the group.
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
from typing import Any, NamedTuple

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


def comma_list(text: str) -> tuple[str, ...]:
    """A flag's comma-separated words as a tuple: "a, b," -> ("a", "b")."""
    return tuple(w.strip() for w in text.split(",") if w.strip())


def group(prefix: str, options: type) -> Any:
    """A Config field holding `options()` whose fields are flags `--PREFIX-NAME`."""
    return dataclasses.field(default_factory=options, metadata={"group": prefix})


class Flag(NamedTuple):
    """One setting as the command line sees it: `name` is the flag's field name (a
    group's fields prefixed), `group` the Config field holding it (None at the top)."""

    name: str
    hint: Any
    field: dataclasses.Field
    doc: str
    range: str | None
    group: str | None


def flags_of(cls: type) -> list[Flag]:
    """The settings of a Config dataclass in order, a group's fields in its place."""
    docs, hints, ranges = field_docs(cls), typing.get_type_hints(cls), declared_ranges(cls)
    out = []
    for f in dataclasses.fields(cls):
        prefix = f.metadata.get("group")
        if prefix is None:
            out.append(
                Flag(f.name, hints[f.name], f, docs.get(f.name, ""), ranges.get(f.name), None)
            )
            continue
        sub = hints[f.name]
        sub_docs, sub_hints, sub_ranges = (
            field_docs(sub),
            typing.get_type_hints(sub),
            declared_ranges(sub),
        )
        for g in dataclasses.fields(sub):
            doc = f"{prefix}: {sub_docs.get(g.name, '')}"
            name = f"{prefix}_{g.name}"
            out.append(Flag(name, sub_hints[g.name], g, doc, sub_ranges.get(g.name), f.name))
    return out


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
    parser.add_argument(
        "--config", metavar="YAML", help="read these settings from a YAML recipe; flags override it"
    )
    for fl in flags_of(cls):
        f = fl.field
        tp, _ = _base_type(fl.hint)
        flag = flag_name(fl.name)
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        default = (
            None
            if required
            else (f.default if f.default is not dataclasses.MISSING else f.default_factory())
        )
        help_ = fl.doc
        if not required:
            shown = ",".join(default) if typing.get_origin(tp) is tuple else default
            help_ += f" (default: {shown})"
        if fl.range is not None and fl.range != "any":
            help_ += f" [{fl.range}]"
        if f.metadata.get("positional"):  # `prmkit data get NAME`: a word, not a flag
            choices = list(typing.get_args(tp)) if typing.get_origin(tp) is typing.Literal else None
            parser.add_argument(fl.name, choices=choices, help=help_)
            continue
        kw: dict[str, Any] = {"help": help_, "dest": fl.name, "default": argparse.SUPPRESS}
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
        elif typing.get_origin(tp) is tuple:  # tuple[str, ...]: one comma-separated flag
            tp = comma_list
        parser.add_argument(flag, type=tp, metavar=fl.name.rstrip("_").upper(), **kw)


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


def _grouped(cls: type, flags: list[Flag], values: dict[str, Any]) -> dict[str, Any]:
    """Flat settings -> the Config's keyword arguments, a group's given fields gathered
    into its options dataclass (its other fields keep their defaults)."""
    hints = typing.get_type_hints(cls)
    kwargs = {k: v for k, v in values.items() if k in {fl.name for fl in flags if not fl.group}}
    for name in dict.fromkeys(fl.group for fl in flags if fl.group):
        given = {
            fl.field.name: values[fl.name] for fl in flags if fl.group == name and fl.name in values
        }
        if given:
            kwargs[name] = hints[name](**given)
    return kwargs


def build_config(cls: type, ns: argparse.Namespace) -> Any:
    """The dataclass from a YAML recipe (if --config) overlaid with the given flags."""
    values: dict[str, Any] = {}
    flags = flags_of(cls)
    names = {fl.name for fl in flags}
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
    for fl in flags:  # a recipe's comma-separated words (or YAML list) for a tuple setting
        if typing.get_origin(_base_type(fl.hint)[0]) is tuple and fl.name in values:
            v = values[fl.name]
            values[fl.name] = comma_list(v) if isinstance(v, str) else tuple(v)
    values.update({k: v for k, v in vars(ns).items() if k in names})
    missing = [
        fl.name
        for fl in flags
        if fl.name not in values
        and fl.field.default is dataclasses.MISSING
        and fl.field.default_factory is dataclasses.MISSING
    ]
    if missing:
        flags_text = ", ".join(flag_name(m) for m in missing)
        raise InputError(f"missing required setting(s): {flags_text}")
    try:
        cfg = cls(**_grouped(cls, flags, values))
    except TypeError as e:
        raise InputError(str(e)) from None
    try:
        check_ranges(cfg, flag_name)
        for f in dataclasses.fields(cls):
            if "group" in f.metadata:
                prefix = f.metadata["group"]
                check_ranges(getattr(cfg, f.name), lambda n, p=prefix: flag_name(f"{p}_{n}"))
        check = getattr(cfg, "check", None)
        if check is not None:
            check()
    except ValueError as e:
        raise InputError(str(e)) from None
    return cfg
