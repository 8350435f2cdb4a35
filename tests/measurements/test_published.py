"""Published memory figures beside our estimates (symbolic.measurements.published): every record is sourced and quoted,
names a bundled model and a quantity ``estimate`` returns, our numbers are recomputed here through the API, and the
README table is the script's output."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from symbolic.measurements import published
from symbolic.pipelines.catalog import CATALOG
from symbolic.pipelines.api import estimate

ROOT = Path(__file__).resolve().parents[2]
START, END = "<!-- published-table:start -->\n", "<!-- published-table:end -->"
FIGURES = published.published_figures()


@pytest.fixture(scope="module")
def comparison():
    return published.published_comparison()


def test_enough_figures_across_the_models():
    models = {f.model for f in FIGURES}
    assert len(FIGURES) >= 10
    assert {"flux.1-dev", "sd3.5-medium", "wan2.1-t2v-1.3b", "wan2.1-t2v-14b", "hunyuanvideo", "cogvideox-2b",
            "cogvideox-5b", "ltx-video", "qwen-image", "sdxl"} <= models


@pytest.mark.parametrize("figure", FIGURES, ids=lambda f: f"{f.model}-{f.value:g}")
def test_every_record_is_sourced_quoted_and_bundled(figure):
    assert figure.model in CATALOG
    assert figure.source.strip() and figure.quote.strip() and figure.method.strip() and figure.settings.strip()
    assert figure.measures in published.QUANTITIES and figure.unit in published.UNITS
    assert figure.value > 0
    # the published number appears in its quote (as written there: "36.166", "19", "8.19")
    assert f"{figure.value:g}" in figure.quote.replace(",", "")


def test_records_are_distinct():
    keys = [(f.model, f.value, f.measures, f.memory_options, f.quantize, f.height, f.frames) for f in FIGURES]
    assert len(keys) == len(set(keys))


def test_a_bad_record_is_refused_naming_the_field():
    with pytest.raises(ValueError, match="measures"):
        published.PublishedFigure("sdxl", 1, "GiB", "peak", "m", "s", "src", "q")
    with pytest.raises(ValueError, match="unit"):
        published.PublishedFigure("sdxl", 1, "MB", "peak_allocated_bytes", "m", "s", "src", "q")
    with pytest.raises(ValueError, match="source"):
        published.PublishedFigure("sdxl", 1, "GiB", "peak_allocated_bytes", "m", "s", " ", "q")


def test_our_numbers_come_from_the_api(comparison):
    assert [c.figure for c in comparison] == list(FIGURES)
    for c in comparison:
        f = c.figure
        result = estimate(f.model, f.height, f.width, frames=f.frames, batch=f.batch, guidance_scale=f.guidance_scale,
                          dtype=f.dtype, memory_options=f.memory_options, quantize=dict(f.quantize) or None)
        assert c.ours_bytes == result[f.measures]
        assert c.ratio == pytest.approx(result[f.measures] / (f.value * published.UNITS[f.unit]), rel=1e-12)
        assert c.settings_differ == published.settings_differ(f) and c.settings_differ


def test_another_code_base_is_always_named(comparison):
    for c in comparison:
        assert (c.figure.code_base in c.settings_differ) == (c.figure.code_base != "diffusers")


def test_same_code_same_measurement_agrees(comparison):
    """The FLUX.1-dev blog rows: one H100, diffusers, max_memory_reserved named. A change that moves our FLUX
    weights, quantized storage or reserved peak by more than 15 % shows here."""
    blog = [c for c in comparison if c.figure.source == published.FLUX_BLOG]
    assert len(blog) == 7
    for c in blog:
        assert 0.85 < c.ratio < 1.15, (c.figure.settings, c.ratio)


def test_rows_are_strings_for_a_table(comparison):
    rows = published.published_rows()
    assert len(rows) == len(FIGURES)
    keys = {"model", "call", "settings", "published", "ours", "ratio", "quantity", "method", "differs", "source",
            "quote"}
    for row, c in zip(rows, comparison):
        assert set(row) == keys and all(isinstance(v, str) and v for v in row.values())
        assert row["model"] == c.figure.model and row["ratio"] == f"{c.ratio:.2f}"


def test_readme_table_is_current():
    readme = (ROOT / "README.md").read_text()
    assert START in readme and END in readme, "README.md lacks the published-table markers"
    table = readme[readme.index(START) + len(START):readme.index(END)]
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "published_table.py")], capture_output=True,
                         text=True, check=True, cwd=ROOT).stdout
    assert table == out, "README table is stale: python scripts/published_table.py --readme"
