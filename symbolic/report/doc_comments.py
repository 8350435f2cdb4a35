"""The ``#:`` comment reader: the documented constants of a Python file, by name, for the report's tables."""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path


def attribute_docs(source_path: Path, names: Iterable[str] | None = None, scope: str | None = None) -> dict[str, str]:
    """``#:`` comments above assignments in a Python file (Sphinx's convention), by assigned name. Consecutive
    assignments after one comment share it. ``scope``: only inside ``class <scope>``."""
    text = Path(source_path).read_text()
    docs: dict[str, str] = {}
    comment: list[str] = []
    last_doc = ""
    inside = scope is None
    assignment = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?::[^=]+)?=(?!=)")
    for line in text.splitlines():
        stripped = line.strip()
        if scope is not None:
            if re.match(rf"class {scope}\b", line):
                inside = True
                continue
            if inside and line and not line[0].isspace() and not stripped.startswith("#"):
                inside = False
        if not inside:
            continue
        if stripped.startswith("#:"):
            comment.append(stripped[2:].strip())
            continue
        match = assignment.match(line)
        if match and scope is None and line[0].isspace():
            match = None  # a local variable inside a function, not a module attribute
        if match:
            if comment:
                last_doc = " ".join(comment)
            docs.setdefault(match.group(1), last_doc)
            comment = []
            continue
        comment, last_doc = [], ""
    if names is not None:
        docs = {name: docs.get(name, "") for name in names}
    return docs
