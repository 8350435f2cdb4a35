#!/usr/bin/env python3
"""Measure one transformer forward and one VAE decode of the video models on a GPU (random weights, shipped
configs; CogVideoX-2B/5B, Wan 2.1 1.3B/14B, HunyuanVideo) and compare the rows with the closed-form model.

    python scripts/measure_video_gpu.py --out OUT.csv                       # one row per model and stage
    python scripts/measure_video_gpu.py --grid --out OUT.csv [--models hunyuanvideo ...]
    python scripts/measure_video_gpu.py --grid --dry-run                    # print the plan (no GPU)
    python scripts/measure_video_gpu.py --compare OUT.csv [--out CMP.csv]   # measured vs estimate_video_pipeline

Needs the ``gpu`` extra (torch, diffusers, transformers) and a CUDA device (exit status 2 without one), except for
--dry-run and --compare. The method is documented in symbolic/harness/measure_video.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from symbolic.harness.measure_video import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
