"""Bulk validation speed (issue 10): rows per second of ``validate_rows`` + ``summarize`` on a whole table against the
one-row path (``validate_rows`` on one row at a time), measured in one run on the same synthetic rows (CSV text cells
with measured columns, as ``read_rows`` gives them). Prints both rates and their ratio (goal: >= 100x for 100,000
rows); the last line is ``bulk/one-row speedup: <ratio>x``.

The rows are four SD 1.5 configurations at sizes on a measurement grid (multiples of 64 from 256 to 2048, batch 1-4):
the seed formula's baseline is computed once per distinct (height, width, tokens, batch), as a measured table repeats
them. The first bulk run builds each configuration's vectorised function (SymPy, once per process): it is printed
apart and not counted in the rate; the one-row path's exact code comes from the disk cache either way.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from symbolic.measurements.validate import summarize, validate_rows  # noqa: E402

CONFIGS = [("img2img", "none"), ("txt2img", "none"), ("img2img", "vae_tiling"), ("txt2img", "attention_slicing")]
#: Sizes as a measurement grid has them (the H100 table: 256 to 1024; 2048 for the large ones).
SIZES = range(256, 2049, 64)


def synthetic_rows(count: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        task, option = rng.choice(CONFIGS)
        rows.append({"model": "sd15", "task": task, "attention": "sdpa", "sdpa_backend": "default",
                     "memory_option": option, "dtype": "fp16", "height": str(rng.choice(SIZES)),
                     "width": str(rng.choice(SIZES)), "num_images_per_prompt": str(rng.randint(1, 4)),
                     "guidance_scale": rng.choice(["1.0", "7.5"]), "prompt_tokens": "77",
                     "peak_allocated_bytes": str(rng.randint(3 * 2**30, 40 * 2**30)),
                     "stage_vae_decode_peak": str(rng.randint(3 * 2**30, 40 * 2**30))})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows for the bulk path (default 100000)")
    parser.add_argument("--sample", type=int, default=100, help="rows validated one by one (default 100)")
    args = parser.parse_args()
    rows = synthetic_rows(args.rows)
    start = time.perf_counter()
    summarize(validate_rows(rows))
    first = time.perf_counter() - start
    sample = rows[:args.sample]
    bulk_times, single_times = [], []
    for _ in range(3):  # interleaved, best of three each: a shared machine's load hits both paths alike
        start = time.perf_counter()
        results = validate_rows(rows)
        summary = summarize(results)
        bulk_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        single = [validate_rows([row])[0] for row in sample]
        single_times.append(time.perf_counter() - start)
    bulk_rate = len(rows) / min(bulk_times)
    single_rate = len(sample) / min(single_times)
    start = time.perf_counter()
    materialised = [(r.inputs, r.estimate, r.measured, r.errors) for r in results]
    materialise_rate = len(rows) / (min(bulk_times) + time.perf_counter() - start)
    for alone, (inputs, estimate, measured, errors) in zip(single, materialised):
        assert (alone.inputs, alone.estimate, alone.measured, alone.errors) == (inputs, estimate, measured, errors), \
            "the bulk path must give the one-row path's values"
    print(f"first bulk run (builds the vectorised functions): {first:.2f} s")
    print(f"bulk path:    {bulk_rate:,.0f} rows/s over {len(rows):,} rows (validate_rows + summarize; "
          f"{summary['peak_allocated_bytes']['compared']:,} compared)")
    print(f"bulk path, every row's dicts built too: {materialise_rate:,.0f} rows/s")
    print(f"one-row path: {single_rate:,.0f} rows/s over {len(sample):,} rows (validate_rows on one row)")
    print(f"bulk/one-row speedup: {bulk_rate / single_rate:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
