"""The `prmkit` command: thin. Parse a command's config dataclass, call the library.

Every command module defines `Config` (a dataclass, one documented field per flag)
and `run(cfg) -> dict`. The dict is printed as one line of JSON, last on stdout.
"""

from __future__ import annotations

import importlib
import json
import sys

from prmkit.config import OneLineParser, add_arguments, build_config
from prmkit.data import InputError
from prmkit.extras import missing_message

# command words -> module under prmkit.commands
COMMANDS: dict[tuple[str, ...], str] = {
    ("world", "generate"): "world",
    ("policy", "train"): "policy",
    ("agent", "train"): "agent_train",
    ("sample",): "sample",
    ("label",): "label",
    ("demo",): "demo",
    ("prm", "train"): "prm_train",
    ("prm", "surprise"): "prm_surprise",
    ("eval", "processbench"): "eval_processbench",
    ("convert",): "convert",
    ("data", "get"): "data_get",
    ("score",): "score",
    ("search",): "search",
    ("plot",): "plot",
    ("rl",): "rl",
    ("serve", "prm"): "serve_prm",
    ("serve", "policy"): "serve_policy",
}


def _usage() -> str:
    lines = [
        "usage: prmkit COMMAND [flags]   (prmkit COMMAND --help for its flags)",
        "",
        "commands:",
    ]
    for words, mod in COMMANDS.items():
        doc = (importlib.import_module(f"prmkit.commands.{mod}").__doc__ or "").strip().splitlines()
        lines.append(f"  {' '.join(words):<22} {doc[0] if doc else ''}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    match = max((w for w in COMMANDS if tuple(argv[: len(w)]) == w), key=len, default=None)
    if match is None:
        if not argv or argv[0] in ("-h", "--help"):
            print(_usage())
            return 0
        sys.stderr.write(f"prmkit: unknown command {' '.join(argv[:2])!r} (see prmkit --help)\n")
        return 2
    prog = "prmkit " + " ".join(match)
    try:
        module = importlib.import_module(f"prmkit.commands.{COMMANDS[match]}")
        parser = OneLineParser(prog=prog, description=module.__doc__)
        add_arguments(parser, module.Config)
        ns = parser.parse_args(argv[len(match) :])
        try:
            cfg = build_config(module.Config, ns)
        except InputError as e:  # a setting out of range, a bad recipe: a usage error
            sys.stderr.write(f"{prog}: {e}\n")
            return 2
        summary = module.run(cfg)
    except InputError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    except ModuleNotFoundError as e:
        message = missing_message(e)
        if message is None:
            raise
        sys.stderr.write(f"{prog}: {message}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
