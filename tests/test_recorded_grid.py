"""The recorded grid (``tests/recording/grid.py``): 2,500 ``estimate --json`` calls over every bundled id must give
byte-identical output (and the same refusals) as when recorded. An intended change of numbers or messages is
re-recorded with ``SYMBOLIC_UPDATE_GOLDEN=1`` (or ``python tests/recording/grid.py --overwrite``) and shows in the
commit as a changed golden file."""
from __future__ import annotations

import grid
import pytest
from helpers import updating


def test_recorded_grid_is_byte_identical():
    rows = grid.record()
    if updating():
        grid.write_golden(rows)
        return
    expected = grid.read_golden()
    assert len(rows) == len(expected), "the grid's calls changed; re-record it"
    differ = [(e, a) for e, a in zip(expected, rows) if e != a]
    if differ:
        e, a = differ[0]
        pytest.fail(f"{len(differ)} of {len(rows)} calls differ; first: estimate {' '.join(e['argv'])}\n"
                    f"recorded: {e['status']} {e['stdout'][:1500]}{e['stderr']}\nnow: {a['status']} "
                    f"{a['stdout'][:1500]}{a['stderr']}")
    assert sum(r["status"] == 0 for r in rows) >= 1800
