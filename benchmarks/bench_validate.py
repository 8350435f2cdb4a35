"""Bulk validation speed (issue 10): rows per second of ``validate``'s bulk path (rows of one configuration evaluated
together over arrays, ``symbolic.bulk``) against the one-row path (``validate.predict`` per row), measured in one
run on the same synthetic rows. Prints both rates and their ratio (goal: >= 100x for 100,000 rows); the last line
is ``bulk/one-row speedup: <ratio>x``.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from symbolic.validate import predict, predict_all  # noqa: E402

CONFIGS = [("img2img", "none"), ("txt2img", "none"), ("img2img", "vae_tiling"), ("txt2img", "attention_slicing")]


def synthetic_rows(count: int, seed: int = 0) -> list[tuple[int, dict]]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        task, option = rng.choice(CONFIGS)
        rows.append((i + 2, {"model": "sd15", "frames": None, "task": task, "attention": "sdpa",
                             "sdpa_backend": "default", "memory_option": option, "dtype": "fp16",
                             "height": 8 * rng.randint(32, 256), "width": 8 * rng.randint(32, 256),
                             "num_images_per_prompt": rng.randint(1, 4), "guidance_scale": rng.choice([1.0, 7.5]),
                             "prompt_tokens": 77}))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows for the bulk path (default 100000)")
    parser.add_argument("--sample", type=int, default=2_000, help="rows timed one by one (default 2000)")
    args = parser.parse_args()
    rows = synthetic_rows(args.rows)
    predict_all(rows[:len(CONFIGS) * 50])  # derive and compile every configuration before timing
    [predict(inputs) for _, inputs in rows[:len(CONFIGS) * 50]]
    start = time.perf_counter()
    bulk = predict_all(rows)
    bulk_rate = len(rows) / (time.perf_counter() - start)
    sample = rows[:args.sample]
    start = time.perf_counter()
    single = [predict(inputs) for _, inputs in sample]
    single_rate = len(sample) / (time.perf_counter() - start)
    assert single == bulk[:len(sample)], "the bulk path must give the one-row path's values"
    print(f"bulk path:    {bulk_rate:,.0f} rows/s over {len(rows):,} rows")
    print(f"one-row path: {single_rate:,.0f} rows/s over {len(sample):,} rows")
    print(f"bulk/one-row speedup: {bulk_rate / single_rate:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
