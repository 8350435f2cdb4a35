"""``python -m symbolic.report.planner --out report/planner.html``: write the planner page alone."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m symbolic.report.planner",
        description="Write planner.html: one self-contained page (no network) that evaluates the closed-form memory "
                    "model of every bundled pipeline in the browser, exactly as python -m symbolic estimate does.")
    parser.add_argument("--out", type=Path, default=Path("report/planner.html"), metavar="FILE",
                        help="where to write the page (default: report/planner.html)")
    args = parser.parse_args(argv)
    if args.out.is_dir():
        parser.error(f"--out: {args.out} is a folder; give a file name such as {args.out / 'planner.html'}")
    from symbolic.report.planner import write_planner

    start = time.perf_counter()
    try:
        path = write_planner(args.out)
    except OSError as exc:
        print(f"--out: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({path.stat().st_size / 2**20:.2f} MiB) in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
