"""The offline planner page (``planner.html``): the API's closed forms printed to JavaScript by SymPy's code printer,
in one self-contained HTML file. ``write_planner(path)`` writes it (``python -m symbolic report`` calls it;
``python -m symbolic.report.planner --out FILE`` runs it alone)."""
from __future__ import annotations

from pathlib import Path


def write_planner(path: Path, models: tuple[str, ...] | None = None) -> Path:
    """Write the page to ``path`` and return it (see ``symbolic.report.planner.page``); ``models``: a subset of the bundled
    ids (default all)."""
    from symbolic.report.planner.page import write_planner as write

    return write(path, models)


__all__ = ["write_planner"]
