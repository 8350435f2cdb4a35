#!/usr/bin/env bash
# The README's test command: install the package with its test, report and cross-check extras, then run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e '.[dev,report,gpu]'
python -m pytest "$@"
