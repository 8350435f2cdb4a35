"""``python -m symbolic validate FILE.csv``: predict every row of a measurement table and compare."""
from __future__ import annotations

from symbolic.cli.arguments import print_json_line
from symbolic.core.units import GiB

NAME = "validate"
HELP = ("predict every row of a measurement CSV and compare with its measured columns "
        "(exit status 1 when a row misses the accuracy bars)")


def add_arguments(parser) -> None:
    parser.add_argument("file", metavar="FILE.csv",
                        help="CSV (UTF-8) with the measurement table's input columns; - reads standard input")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per row (JSON Lines); the exit status is the table's (1 on FAIL)")


def _pct(value) -> str:
    return "" if value is None else f"{value * 100:+.1f}%"


def run(args) -> int:
    from symbolic.measurements.validate import passes, read_rows, summarize, validate_rows

    results = validate_rows(read_rows(args.file))
    if args.json:
        for r in results:
            record = dict(r.inputs, **r.estimate)
            if r.measured:
                record["measured"] = r.measured
                record["relative_errors"] = r.errors
                record["baselines_bytes"] = r.baselines
                record["baseline_relative_errors"] = r.baseline_errors
            print_json_line(record)
        summary = summarize(results)
        return 0 if not summary or passes(summary) else 1  # the table's verdict: PASS 0, FAIL 1
    header = (f"{'task':<8}{'attn':<8}{'backend':<10}{'option':<18}{'dtype':<6}{'size':>10}{'N':>3}{'G':>5}"
              f"{'pred GiB':>10}{'meas GiB':>10}{'err':>8}{'worst stage':>13}{'reserved':>10}{'smi':>8}{'seed f()':>10}"
              f"{'ComfyUI':>9}")
    print(header)
    for r in results:
        i, e = r.inputs, r.estimate
        measured = r.measured.get("peak_allocated_bytes")
        stage_errors = [v for k, v in r.errors.items() if k.startswith("stage_")]
        worst = max(stage_errors, key=abs) if stage_errors else None
        print(f"{i['task']:<8}{i['attention']:<8}{i['sdpa_backend']:<10}{i['memory_option']:<18}{i['dtype']:<6}"
              f"{i['height']:>5}x{i['width']:<4}{i['num_images_per_prompt']:>3}{i['guidance_scale']:>5.1f}"
              f"{e['peak_allocated_bytes'] / GiB:>10.3f}"
              f"{(measured / GiB if measured else float('nan')):>10.3f}"
              f"{_pct(r.errors.get('peak_allocated_bytes')):>8}{_pct(worst):>13}"
              f"{_pct(r.errors.get('peak_reserved_bytes')):>10}{_pct(r.errors.get('driver_used_bytes')):>8}"
              f"{_pct(r.baseline_errors.get('seed')):>10}{_pct(r.baseline_errors.get('comfyui')):>9}")
    summary = summarize(results)
    if not summary:
        print(f"{len(results)} rows predicted (no measured columns to compare)")
        return 0
    print()
    for metric, stats in summary.items():
        line = (f"{metric:<30} rows {stats['compared']:>3}  median |err| {stats['median_abs_error'] * 100:5.2f}%"
                f"  max |err| {stats['max_abs_error'] * 100:6.2f}%")
        if "tolerance" in stats:
            line += f"  within {stats['tolerance'] * 100:.0f}%: {stats['within_tolerance']}/{stats['compared']}"
        print(line)
    alloc = summary.get("peak_allocated_bytes")
    verdict = "PASS" if passes(summary) else "FAIL"
    baselines = ", ".join(f"{label}: median {summary[key]['median_abs_error'] * 100:.1f}%"
                          for label, key in (("seed f()", "seed_formula_peak_allocated"),
                                             ("ComfyUI", "comfyui_peak_allocated")) if key in summary)
    print(f"{verdict}: {len(results)} rows; peak_allocated median |err| {alloc['median_abs_error'] * 100:.2f}%, "
          f"max {alloc['max_abs_error'] * 100:.2f}%" + (f" ({baselines})" if baselines else "") if alloc else verdict)
    return 0 if verdict == "PASS" else 1
