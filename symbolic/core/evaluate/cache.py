"""On-disk cache of generated exact code, so that a CLI estimate needs no SymPy at all once a configuration has been
derived (cold start well under a second).

An entry maps output names to the Python source ``printers.exact_source`` generated for them (other callers store
plain JSON data). It is keyed by the configuration and by a digest of the package's own files: any change to a term,
a config or the code invalidates it.

Where: ``$SYMBOLIC_CACHE_DIR`` (``off``, in any case, disables the cache; a relative path gives no cache), else ``$XDG_CACHE_HOME/symbolic``, else
``$HOME/.cache/symbolic``. A relative ``XDG_CACHE_HOME``, or an empty or relative ``HOME`` (with no
``XDG_CACHE_HOME``), gives no cache at all rather than a directory relative to wherever the process happens to run
(``cache_dir()`` returns ``None``). Platforms without POSIX owners (``os.getuid``) or ``dir_fd`` support run
uncached.

The entries are code that ``runtime.compile_exact`` runs, so the cache only ever reads what this user wrote,
for this exact build, for this exact question:

* The directory is created private (``0o700``). One that is not a directory owned by the current user, or that is
  writable by group or others, is not used at all: nothing is read from it or written to it (the answer is built).
* An entry file is read only if it is a regular file (not a symlink) owned by the current user and not writable by
  group or others (checked on the open descriptor, so the file cannot be swapped between check and read).
* Each entry is sealed with the package version, the source digest, the namespace and the key it was built for, and
  a SHA-256 of its content; any mismatch is a miss.
* Its shape is checked: a JSON object with the keys its caller says it reads (``required``); ``args`` a list of
  strings; ``outputs`` an object of string to string where every value passes ``compile_exact``'s whitelist grammar
  and takes exactly the parameters ``_`` + each of ``args``; ``stages`` and ``roles`` lists of strings,
  ``latent_rank`` an integer.
* Writes go to a fresh ``0o600`` file created exclusively in the directory, then renamed over the entry (atomic).

A refused, damaged, stale or wrongly shaped entry is a miss: it is rebuilt and replaced, silently, never a traceback.
An unusable or unwritable directory only costs speed.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import stat
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from symbolic.core.evaluate.runtime import exact_parameters

#: The package's root folder (this file is symbolic/core/evaluate/cache.py): its sources make the digest.
PACKAGE_DIR = Path(__file__).resolve().parents[2]
FORMAT = 2
#: An entry larger than this is not read (the largest real entry is well under a megabyte).
MAX_ENTRY_BYTES = 64 * 1024 * 1024
_SAFE_NAMESPACE = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")
#: The keys each caller reads from its entries (``pipelines/api.py``,
#: ``report/jobs.py``): an entry without them is a miss. Keep in step with those callers.
def _is_strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


@lru_cache(maxsize=None)
def source_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*")):
        if path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(PACKAGE_DIR)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


@lru_cache(maxsize=None)
def package_version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover
        return "unknown"
    try:
        return version("symbolic")
    except PackageNotFoundError:
        return "unknown"


def cache_dir() -> Path | None:
    """The cache directory, or ``None`` for no cache (see the module docstring)."""
    configured = os.environ.get("SYMBOLIC_CACHE_DIR")
    if configured is not None and configured.strip().lower() == "off":
        return None
    if configured:
        # A relative directory would depend on wherever the process runs: no cache, as for XDG_CACHE_HOME.
        return Path(configured) if os.path.isabs(configured) else None
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "symbolic" if os.path.isabs(xdg) else None
    home = os.environ.get("HOME")
    if home is None:
        home = os.path.expanduser("~")  # HOME unset: the password database
    if not home or not os.path.isabs(home):
        return None
    return Path(home) / ".cache" / "symbolic"


def _file_name(namespace: str, key: str) -> str:
    name = hashlib.sha256(
        f"{FORMAT}|{package_version()}|{source_digest()}|{namespace}|{key}".encode()).hexdigest()[:32]
    prefix = namespace if _SAFE_NAMESPACE.match(namespace) else "entry"
    return f"{prefix}-{name}.json"


def _entry_path(namespace: str, key: str) -> Path | None:
    """Where the entry for (namespace, key) lives, ``None`` without a cache."""
    directory = cache_dir()
    return directory / _file_name(namespace, key) if directory is not None else None


def _content_digest(entry) -> str:
    return hashlib.sha256(json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _seal(namespace: str, key: str, entry: dict) -> dict:
    """The stored form of ``entry``: tied to this package version and source, this namespace and key, its content."""
    return {"format": FORMAT, "version": package_version(), "digest": source_digest(), "namespace": namespace,
            "key": key, "sha256": _content_digest(entry), "entry": entry}


def _well_formed(entry, required: tuple[str, ...]) -> bool:
    if not isinstance(entry, dict) or any(k not in entry for k in required):
        return False
    args = entry.get("args")
    if "args" in entry and not _is_strings(args):
        return False
    if any(k in entry and not _is_strings(entry[k]) for k in ("stages", "roles")):
        return False
    if "latent_rank" in entry and type(entry["latent_rank"]) is not int:
        return False
    if "outputs" in entry:
        outputs = entry["outputs"]
        if not isinstance(outputs, dict):
            return False
        expected = tuple(f"_{a}" for a in args) if "args" in entry else None
        for name, source in outputs.items():
            if not isinstance(source, str):
                return False
            try:
                parameters = exact_parameters(source)
            except ValueError:
                return False
            if expected is not None and parameters != expected:
                return False
    return True


def _unseal(sealed, namespace: str, key: str, required: tuple[str, ...] = ()):
    """The entry inside ``sealed`` if it is ours for exactly this question and well formed, else ``None``."""
    if not isinstance(sealed, dict):
        return None
    expected = {"format": FORMAT, "version": package_version(), "digest": source_digest(), "namespace": namespace,
                "key": key}
    if any(sealed.get(field) != value for field, value in expected.items()):
        return None
    entry = sealed.get("entry")
    if not _well_formed(entry, required) or sealed.get("sha256") != _content_digest(entry):
        return None
    return entry


def _trusted(status: os.stat_result, kind: Callable[[int], bool]) -> bool:
    """Of the right kind, owned by the current user, and writable by nobody else."""
    return kind(status.st_mode) and status.st_uid == os.getuid() and not status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _supported() -> bool:
    # os.replace takes the same dir_fd arguments as os.rename (supports_dir_fd lists only the latter)
    return hasattr(os, "getuid") and os.open in os.supports_dir_fd and os.rename in os.supports_dir_fd


def _open_directory(directory: Path) -> int | None:
    """A descriptor of the cache directory (created ``0o700`` if missing) when it is safe to use, else ``None``."""
    try:
        directory.mkdir(parents=True, mode=0o700, exist_ok=True)
        descriptor = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except (OSError, ValueError):
        return None
    try:
        if _trusted(os.fstat(descriptor), stat.S_ISDIR):
            return descriptor
    except OSError:
        pass
    os.close(descriptor)
    return None


def _read(directory_fd: int, name: str):
    """The parsed JSON of entry ``name`` if the file is one we can trust, else ``None``."""
    try:
        descriptor = os.open(name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0),
                             dir_fd=directory_fd)
    except OSError:
        return None
    try:
        status = os.fstat(descriptor)
        if not _trusted(status, stat.S_ISREG) or status.st_size > MAX_ENTRY_BYTES:
            return None
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(MAX_ENTRY_BYTES + 1)
        return json.loads(data)
    except (OSError, ValueError, RecursionError, MemoryError):
        return None
    finally:
        os.close(descriptor)


def _write(directory_fd: int, name: str, sealed: dict) -> None:
    data = json.dumps(sealed).encode()
    temporary = f".{name}.{os.getpid()}.{secrets.token_hex(8)}.tmp"
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600,
                             dir_fd=directory_fd)
    except OSError:
        return
    try:
        try:
            os.fchmod(descriptor, 0o600)
            with os.fdopen(descriptor, "wb", closefd=False) as handle:
                handle.write(data)
        finally:
            os.close(descriptor)
        os.replace(temporary, name, src_dir_fd=directory_fd, dst_dir_fd=directory_fd)
    except OSError:
        try:
            os.unlink(temporary, dir_fd=directory_fd)
        except OSError:
            pass


def load_or_build(namespace: str, key: str, build: Callable[[], dict], required: tuple[str, ...] = ()) -> dict:
    """The cached JSON object for (namespace, key), built by ``build()`` and stored on a miss (including a refused,
    stale, damaged or wrongly shaped entry, which the new one replaces). ``required``: the keys the caller reads
    (an entry without one of them is a miss)."""
    directory = cache_dir()
    directory_fd = _open_directory(directory) if directory is not None and _supported() else None
    try:
        name = _file_name(namespace, key)
        if directory_fd is not None:
            entry = _unseal(_read(directory_fd, name), namespace, key, tuple(required))
            if entry is not None:
                return entry
        entry = build()
        if directory_fd is not None:
            _write(directory_fd, name, _seal(namespace, key, entry))
        return entry
    finally:
        if directory_fd is not None:
            os.close(directory_fd)
