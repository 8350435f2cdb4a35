#!/usr/bin/env python3
"""Measure any bundled pipeline's GPU memory per stage (random weights from the bundled configs, no Hub).

    python scripts/measure_gpu.py --model sdxl --grid --out data/measurements/sdxl_h100.csv
    python scripts/measure_gpu.py --model flux.1-dev --rows IN.csv --out OUT.csv [--min-cap]
    python scripts/measure_gpu.py --model qwen-image --grid --dry-run    # rows + predictions, no GPU
    python scripts/measure_gpu.py --compare OUT.csv                      # measured vs predicted per stage

Needs the ``gpu`` extra (torch, diffusers, transformers) and a CUDA device to measure (exit status 2 without one).
The method is documented in symbolic/harness/measure_pipeline.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from symbolic.harness.measure_pipeline import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
