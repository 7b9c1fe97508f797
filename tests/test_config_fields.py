"""No flag accepted and ignored: every Config field of every command is read.

A field counts as read where its value is used: `x.NAME` (a load, not a store) in the
command's module, outside validation (`check`, `__post_init__`), which reads a value
without using it. A field that the command hands on inside a library dataclass (one
the command module names, or a base of its Config), or copies wholesale (`asdict`,
`fields`), must then be read in the library (src/prmkit outside commands/), as an
attribute or an option key, again outside validation. `--drill-fraction`, checked
in `check()` and carried by SFTSettings but read by no training code, fails here.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
from functools import cache
from pathlib import Path

import pytest

import prmkit
from prmkit.cli import COMMANDS
from prmkit.config import flags_of

VALIDATORS = {"check", "__post_init__"}
PKG = Path(prmkit.__file__).parent


def attribute_reads(source: str) -> set[str]:
    """Names read in the source outside validation methods: attributes loaded (`x.NAME`)
    and option keys (`d["NAME"]`, `d.get("NAME", ...)`)."""
    tree = ast.parse(source)
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in VALIDATORS:
            skip.update(id(n) for n in ast.walk(node))
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            names.add(node.attr)
        key = None
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            key = node.slice
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "get" and node.args:
            key = node.args[0]
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            names.add(key.value)
    return names


@cache
def library_reads() -> frozenset[str]:
    names: set[str] = set()
    for path in PKG.rglob("*.py"):
        if "commands" not in path.relative_to(PKG).parts:
            names |= attribute_reads(path.read_text(encoding="utf-8"))
    return frozenset(names)


def handed_on(module) -> list[type]:
    """Library dataclasses a command passes its settings into."""
    found = [
        v
        for v in vars(module).values()
        if isinstance(v, type)
        and dataclasses.is_dataclass(v)
        and v.__module__.startswith("prmkit.")
        and not v.__module__.startswith("prmkit.commands")
    ]
    return found + [b for b in module.Config.__mro__[1:] if dataclasses.is_dataclass(b)]


def command_helpers(module) -> list:
    """Modules the command hands its whole cfg to: other prmkit.commands modules it
    imports, and the modules of functions it calls with `cfg` (e.g. demo -> demo.real)."""
    tree = ast.parse(inspect.getsource(module))
    names, origin = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("prmkit."):
            for a in node.names:
                origin[a.asname or a.name] = node.module
            if node.module == "prmkit.commands":
                names |= {f"prmkit.commands.{a.name}" for a in node.names}
            elif node.module.startswith("prmkit.commands"):
                names.add(node.module)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in origin
            and any(isinstance(a, ast.Name) and a.id == "cfg" for a in node.args)
        ):
            names.add(origin[node.func.id])
    return [importlib.import_module(n) for n in sorted(names) if n != module.__name__]


@pytest.mark.parametrize("words", list(COMMANDS), ids=" ".join)
def test_every_config_field_is_read(words):
    module = importlib.import_module(f"prmkit.commands.{COMMANDS[words]}")
    here = attribute_reads(inspect.getsource(module))
    for helper in command_helpers(module):  # e.g. demo hands its cfg to commands/demo_real.py
        here |= attribute_reads(inspect.getsource(helper))
    source = inspect.getsource(module)
    carried = {f.name: c.__name__ for c in handed_on(module) for f in dataclasses.fields(c)}
    if any(w in source for w in ("__dataclass_fields__", "asdict(", "fields(")):
        # hands fields on wholesale (into a settings object or an options dict)
        carried |= {f.name: "a wholesale copy" for f in dataclasses.fields(module.Config)}
    unread = []
    for f in dataclasses.fields(module.Config):
        if f.name in here or (f.name in carried and f.name in library_reads()):
            continue
        where = f" (carried by {carried[f.name]}, read nowhere)" if f.name in carried else ""
        unread.append(f.name + where)
    for g in group_fields(module.Config):  # a group's options are read by the library
        if g.name not in library_reads():
            unread.append(f"{g.name} (of {g.group}, read nowhere in the library)")
    assert not unread, f"prmkit {' '.join(words)}: flags accepted but not used: {unread}"


def group_fields(cls) -> list:
    """The settings of `prmkit.config.group` fields, named by their options' field."""
    return [f._replace(name=f.field.name) for f in flags_of(cls) if f.group is not None]


def test_the_check_catches_a_field_read_only_in_validation():
    src = (
        "class Config:\n    def check(self):\n        self.x < 1 or self.opts['w']\n\n"
        "def run(cfg):\n    cfg.y = 1\n    return cfg.z + cfg.opts['u'] + cfg.opts.get('v')\n"
    )
    assert attribute_reads(src) == {"z", "opts", "u", "get", "v"}
