"""Helpers shared by the SD 1.5 tests: golden files and an isolated expression cache.

Golden files live in ``tests/golden/``. ``assert_golden(name, text)`` compares ``text`` with the stored file and fails
with a unified diff; run ``SYMBOLIC_UPDATE_GOLDEN=1 python -m pytest tests/...`` to (re)write the files instead (the
test then passes and the diff shows up in ``git diff``).

``isolated_cache`` is a module-scoped autouse-able fixture: import it into a test module
(``from golden_util import isolated_cache  # noqa: F401``) to point ``SYMBOLIC_CACHE_DIR`` at a temporary directory
and drop any ``SYMBOLIC_*`` framework overrides from the environment for that module, so tests neither read a stale
cache nor write to the user's ``~/.cache``.
"""
from __future__ import annotations

import difflib
import os
from dataclasses import fields
from pathlib import Path

import pytest

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
UPDATE_ENV = "SYMBOLIC_UPDATE_GOLDEN"


def updating() -> bool:
    return os.environ.get(UPDATE_ENV, "") not in ("", "0")


def assert_golden(name: str, actual: str) -> None:
    """``actual`` must equal ``tests/golden/<name>``; with ``SYMBOLIC_UPDATE_GOLDEN=1`` the file is rewritten."""
    path = GOLDEN_DIR / name
    if updating():
        GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
        return
    if not path.is_file():
        pytest.fail(f"golden file {path} is missing; create it with {UPDATE_ENV}=1 python -m pytest {os.path.basename(path)}")
    expected = path.read_text()
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                                            fromfile=f"golden/{name}", tofile="actual"))
        pytest.fail(f"output differs from golden/{name} (rerun with {UPDATE_ENV}=1 if the change is intended):\n{diff}")


def framework_env_names() -> list[str]:
    from symbolic.runtime.framework import Framework

    return [f"SYMBOLIC_{f.name.upper()}" for f in fields(Framework)]


@pytest.fixture(scope="module", autouse=True)
def isolated_cache(tmp_path_factory):
    """``SYMBOLIC_CACHE_DIR`` -> a fresh temporary directory, framework overrides removed, for one module."""
    with pytest.MonkeyPatch.context() as mp:
        directory = tmp_path_factory.mktemp("symbolic-cache")
        mp.setenv("SYMBOLIC_CACHE_DIR", str(directory))
        for name in framework_env_names():
            mp.delenv(name, raising=False)
        yield directory
