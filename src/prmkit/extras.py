"""Which `pip install` brings a missing optional package (from prmkit's own metadata)."""

from __future__ import annotations

import importlib.metadata
import re

# import name -> distribution name, where they differ
DISTRIBUTIONS = {"yaml": "pyyaml", "sklearn": "scikit-learn"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def install_hint(module: str) -> str:
    """`pip install 'prmkit[serve]'` for a module an extra brings, else `pip install NAME`."""
    top = module.split(".")[0]
    dist = _norm(DISTRIBUTIONS.get(top, top))
    try:
        requires = importlib.metadata.requires("prmkit") or []
    except importlib.metadata.PackageNotFoundError:
        requires = []
    extras = []
    for req in requires:
        name = re.match(r"[A-Za-z0-9_.-]+", req)
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", req)
        if name and extra and _norm(name.group()) == dist and extra.group(1) != "test":
            extras.append(extra.group(1))
    if extras:
        return f"pip install 'prmkit[{extras[0]}]'"
    return f"pip install {DISTRIBUTIONS.get(top, top)}"


def missing_message(err: ModuleNotFoundError) -> str | None:
    """One line for a missing third-party package; None for prmkit's own modules (a bug)."""
    name = err.name or ""
    if not name or name.split(".")[0] == "prmkit":
        return None
    return f"needs the {name.split('.')[0]} package, which is not installed: {install_hint(name)}"
