"""Helpers shared by the test modules (imported by name: ``tests/conftest.py`` puts this folder on ``sys.path``).

* ``assert_golden(name, text)`` compares ``text`` with ``tests/golden/<name>`` and fails with a unified diff;
  ``SYMBOLIC_UPDATE_GOLDEN=1 python -m pytest ...`` rewrites the files instead (the diff then shows in git).
* ``cli(capsys, *argv) -> (exit status, stdout, stderr)`` of ``python -m symbolic *argv`` run in process; a
  ``SystemExit`` (argparse's own exit) fails the test. ``one_line_error(code, err)`` checks the CLI's promise for
  bad input (exit 2, one line, no traceback) and returns the line.
"""
from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
UPDATE_ENV = "SYMBOLIC_UPDATE_GOLDEN"


def updating() -> bool:
    return os.environ.get(UPDATE_ENV, "") not in ("", "0")


def assert_golden(name: str, actual: str) -> None:
    path = GOLDEN_DIR / name
    if updating():
        GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
        return
    if not path.is_file():
        pytest.fail(f"golden file {path} is missing; create it with {UPDATE_ENV}=1 python -m pytest")
    expected = path.read_text()
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                                            fromfile=f"golden/{name}", tofile="actual"))
        pytest.fail(f"output differs from golden/{name} (rerun with {UPDATE_ENV}=1 if the change is intended):\n{diff}")


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    from symbolic.cli.main import main

    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's --help and friends; bad input must never get here
        pytest.fail(f"SystemExit({exc.code}) for {argv!r}")
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("symbolic: error: ") and "Traceback" not in err, err
    return lines[0]
