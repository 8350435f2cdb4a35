#!/usr/bin/env bash
# The README's main job: set up, build the derivation report (report/), print the headline estimates.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh || echo "main: could not install texlive/chromium (need root); building without the PDF" >&2
if [ -z "${VIRTUAL_ENV:-}" ]; then
  [ -d .venv ] || python3 -m venv .venv
  . .venv/bin/activate
fi
python -m pip install -q -e '.[report]'
if command -v pdflatex >/dev/null 2>&1; then python -m symbolic report; else python -m symbolic report --no-pdf; fi
echo
echo "== Headline estimates: SD 1.5 img2img, fp16, guidance 7.5, model fully on the GPU =="
for size in 512 768 1024; do
  python -m symbolic estimate sd15 --task img2img --height "$size" --width "$size"
  echo
done
python -m symbolic estimate sd15 --task img2img --height 1536 --width 1536 --batch 2 --gpu-memory 12GiB
echo
echo "== Today's models on consumer cards (fits judged by the minimum GPU memory) =="
python -m symbolic estimate flux.1-dev --height 1024 --width 1024 --gpu-memory 16GiB
echo
python -m symbolic estimate hunyuanvideo --frames 129 --height 720 --width 1280 --gpu-memory 24GiB
echo
echo "== Validation against the H100 measurements =="
python -m symbolic validate data/measurements/sd15_h100.csv | tail -n 6
