"""Command-line interface: ``python -m symbolic COMMAND ...``.

Each command lives in its own module under ``symbolic/cli/`` with ``NAME``, ``HELP``, ``add_arguments(parser)``
and ``run(args) -> int``. Bad input of any kind ends with one line on stderr and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from importlib import metadata

#: Command names -> their modules, in the order ``--help`` lists them (each module's ``NAME`` is its key). A call
#: imports its own command's module only; ``--help`` and a mistyped command import them all.
COMMANDS = {
    "estimate": "symbolic.cli.estimate",
    "models": "symbolic.cli.models",
    "validate": "symbolic.cli.validate",
    "asymptotics": "symbolic.cli.asymptotics",
    "fit": "symbolic.cli.fit",
    "video-latent": "symbolic.cli.video_latent",
    "report": "symbolic.cli.report",
}

USAGE_ERROR = 2


def _version() -> str:
    try:
        return metadata.version("symbolic")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


class UsageError(Exception):
    """Bad input from the command line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse would print the whole usage)
        raise UsageError(message)


def _available_commands(names=None):
    for name in (COMMANDS[n] for n in (names or COMMANDS)):
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real import error inside an existing command module
                raise


def build_parser(commands_needed: tuple[str, ...] | None = None) -> argparse.ArgumentParser:
    """The parser of ``commands_needed`` (default: every command)."""
    parser = _Parser(
        prog="python -m symbolic", allow_abbrev=False,
        description="Closed-form GPU-memory equations for diffusion models (bytes; MiB = 2**20, GiB = 2**30).",
    )
    parser.add_argument("--version", action="version", version=f"symbolic {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in _available_commands(commands_needed):
        # allow_abbrev=False: ``--gpu`` is no abbreviation of ``--gpu-memory`` (a misread flag is refused, not guessed)
        sub = commands.add_parser(module.NAME, help=module.HELP, description=module.HELP, allow_abbrev=False)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser((argv[0],) if argv and argv[0] in COMMANDS else None)
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "_run", None):
            parser.print_help()
            raise UsageError("a COMMAND is required (listed above; python -m symbolic COMMAND --help)")
        return int(args._run(args) or 0)
    except (UsageError, ValueError) as exc:
        message = " ".join(str(exc).split())  # one line
        print(f"symbolic: error: {message}", file=sys.stderr)
        return USAGE_ERROR
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
