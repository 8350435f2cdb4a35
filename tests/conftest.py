"""Shared test setup: every session runs with ``SYMBOLIC_CACHE_DIR`` pointing at a fresh temporary directory and
without any ``SYMBOLIC_*`` framework override from the environment, so no test reads a stale cache, writes to the
user's ``~/.cache``, or sees a developer's overrides (autouse, session-wide: each configuration is derived once).
The suite's helper modules (``helpers``: golden files and the in-process CLI; ``hub_configs``; ``import_graph``;
``recording/grid``) are importable by name."""
from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
for helper_dir in (TESTS_DIR, TESTS_DIR / "recording"):
    if str(helper_dir) not in sys.path:
        sys.path.insert(0, str(helper_dir))


def framework_env_names() -> list[str]:
    from symbolic.runtime.framework import Framework

    return [f"SYMBOLIC_{f.name.upper()}" for f in fields(Framework)]


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """``SYMBOLIC_CACHE_DIR`` -> a fresh temporary directory, framework overrides removed, for the session."""
    with pytest.MonkeyPatch.context() as mp:
        directory = tmp_path_factory.mktemp("symbolic-cache")
        mp.setenv("SYMBOLIC_CACHE_DIR", str(directory))
        for name in framework_env_names():
            mp.delenv(name, raising=False)
        yield directory
