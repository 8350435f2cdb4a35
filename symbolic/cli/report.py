"""``python -m symbolic report [--model ID] [--out DIR] [--no-pdf]``: execute the derivation notebook and write the
report: without ``--model``, SD 1.5, one page per pipeline family (``symbolic.report.build.FAMILIES``) and the offline
planner page (``planner.html``); with it, that bundled pipeline only."""
from __future__ import annotations

import sys
from pathlib import Path

NAME = "report"
HELP = ("execute notebooks/derivation.ipynb headless and write the derivation report (HTML with MathML, LaTeX, PDF, "
        "figures, manifest.json): SD 1.5, one page per pipeline family and the offline planner.html, or one bundled "
        "model with --model")


def add_arguments(parser) -> None:
    parser.add_argument("--out", default="report", metavar="DIR", help="output directory (default: report)")
    parser.add_argument("--model", default=None, metavar="ID",
                        help="one bundled pipeline id (python -m symbolic models); default: SD 1.5 and every family")
    parser.add_argument("--no-pdf", action="store_true", help="skip pdflatex (HTML, LaTeX and figures only)")
    parser.add_argument("--notebook", default=None, metavar="PATH",
                        help="the notebook to execute (default: notebooks/derivation.ipynb)")


def _check_out(text: str) -> None:
    """``--out`` must be a folder or a path where one can be made: no file at it or above it."""
    path = Path(text)
    for place in (path, *path.parents):
        if place.exists() and not place.is_dir():
            raise ValueError(f"--out: {place} is a file, not a folder" + ("" if place == path else f" (for {text})"))


def run(args) -> int:
    from symbolic.report import build as report

    _check_out(args.out)
    notebook = args.notebook or report.NOTEBOOK
    try:
        if args.model is None:
            report.build_all(args.out, pdf=not args.no_pdf, notebook=notebook)
        else:
            report.build(args.out, pdf=not args.no_pdf, notebook=notebook, model=report.check_model(args.model))
    except report.ReportError:
        raise  # one line, exit 2 (cli.main)
    except RuntimeError as exc:
        print(f"symbolic: report failed: {exc}", file=sys.stderr)
        return 1
    return 0
