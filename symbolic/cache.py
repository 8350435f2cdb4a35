"""On-disk cache of generated exact code, so that a CLI estimate needs no SymPy at all once a configuration has been
derived (cold start well under a second).

An entry maps output names to the Python source ``numeric.exact_source`` generated for them. It is keyed by the
configuration and by a digest of the package's own files: any change to a term, a config or the code invalidates
it. The directory is ``$SYMBOLIC_CACHE_DIR``, else ``$XDG_CACHE_HOME/symbolic``, else ``~/.cache/symbolic``;
``SYMBOLIC_CACHE_DIR=off`` disables the cache. Writes are atomic; an unwritable directory only costs speed.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def source_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*")):
        if path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(PACKAGE_DIR)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def cache_dir() -> Path | None:
    configured = os.environ.get("SYMBOLIC_CACHE_DIR")
    if configured == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "symbolic"


def load_or_build(namespace: str, key: str, build: Callable[[], dict]) -> dict:
    """The cached JSON object for (namespace, key), built by ``build()`` and stored on a miss."""
    directory = cache_dir()
    name = hashlib.sha256(f"{namespace}|{key}|{source_digest()}".encode()).hexdigest()[:32]
    path = directory / f"{namespace}-{name}.json" if directory else None
    if path is not None and path.is_file():
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            pass  # a damaged entry is rebuilt below
    entry = build()
    if path is not None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, suffix=".tmp") as handle:
                json.dump(entry, handle)
            os.replace(handle.name, path)
        except OSError:
            pass
    return entry
