#!/usr/bin/env python3
"""Measure SD 1.5 pipeline GPU memory per stage; writes rows in the column format of measurements/sd15_h100.csv.

    python scripts/measure_sd15_gpu.py --rows INPUT.csv --out OUT.csv [--device cuda]
    python scripts/measure_sd15_gpu.py --grid --out OUT.csv            # the built-in grid of new rows
    python scripts/measure_sd15_gpu.py --grid --out GRID.csv --dry-run # just write the grid's input rows

Needs the ``gpu`` extra (torch, diffusers, transformers) and a CUDA device (exit status 2 without one).
The method is documented in symbolic/harness/measure_sd15.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from symbolic.harness.measure_sd15 import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
