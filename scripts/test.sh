#!/usr/bin/env bash
# The README's test command: install system tools (texlive, poppler, chromium) if missing, the package with its
# test, report, cross-check and compiled-grid (numba) extras, then run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh || echo "test: could not install texlive/chromium (need root); report-tool tests will skip" >&2
if [ -z "${VIRTUAL_ENV:-}" ]; then
  [ -d .venv ] || python3 -m venv .venv
  . .venv/bin/activate
fi
python -m pip install -q -e '.[dev,report,gpu,fast]'
python -m pytest "$@"
