"""The derivation report (``python -m symbolic report``): fresh, offline-renderable, with a PDF, reproducible.

(a) ``report/manifest.json`` matches the current inputs (package sources, notebook, measurements) and the committed
    outputs; (b) the HTML renders its equations as MathML in Chromium with the network off, with no TeX left over
    and no remote script or stylesheet; (c) the PDF's text holds the peak equation; (d) two HTML builds in a row
    give the same bytes.

(b)-(d) need Chromium, pdftotext and the report extra (nbclient, nbconvert, ipykernel): they skip when one is
missing, unless ``SYMBOLIC_REQUIRE_REPORT_TOOLS=1`` (CI), where a missing tool fails the test.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from symbolic.report.build import MANIFEST, REPO_ROOT, input_digest

REPORT = REPO_ROOT / "report"
STALE = "report is stale: run python -m symbolic report"
REQUIRE = os.environ.get("SYMBOLIC_REQUIRE_REPORT_TOOLS") == "1"


def _need(what: str, available: bool) -> None:
    if available:
        return
    message = f"{what} not available (scripts/setup-system.sh installs it; pip install -e '.[report]')"
    if REQUIRE:
        pytest.fail(f"SYMBOLIC_REQUIRE_REPORT_TOOLS=1 but {message}")
    pytest.skip(message)


def _tool(*names: str) -> str | None:
    return next((shutil.which(n) for n in names if shutil.which(n)), None)


def _manifest() -> dict:
    path = REPORT / MANIFEST
    if not path.is_file():
        pytest.fail(f"{STALE} (no {path.relative_to(REPO_ROOT)})")
    return json.loads(path.read_text())


# --- (a) staleness ----------------------------------------------------------------------------------------------

def test_report_is_fresh():
    manifest = _manifest()
    assert manifest["input_digest"] == input_digest(), f"{STALE} (inputs changed since the last build)"
    for name, sha in manifest["outputs"].items():
        path = REPORT / name
        assert path.is_file(), f"{STALE} ({name} is missing)"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha, f"{STALE} ({name} differs from the manifest)"
    expected = {"derivation.html", "derivation.tex", "derivation.pdf"}
    assert expected <= set(manifest["outputs"]), f"{STALE} (outputs missing from the manifest)"
    figures = {f"figures/{p.name}" for p in (REPORT / "figures").glob("*.png")}
    assert figures and figures <= set(manifest["outputs"]), f"{STALE} (figures not in the manifest)"


# --- (b) the HTML renders offline ------------------------------------------------------------------------------------

REMOTE = re.compile(r"""<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["']?\s*(https?:)?//""", re.IGNORECASE)


def test_html_references_nothing_remote():
    html = (REPORT / "derivation.html").read_text(encoding="utf-8")
    assert not REMOTE.findall(html), "the HTML loads a remote script / stylesheet / image"
    assert not re.search(r"@import\s+(url\()?[\"']?(https?:)?//", html), "the HTML's CSS imports a remote stylesheet"
    assert "mathjax" not in html.lower(), "MathJax is referenced (equations must be MathML)"
    assert html.count("<math") > 20


def _dom_text(dom: str) -> str:
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.DOTALL | re.IGNORECASE)
    dom = re.sub(r"<img\b[^>]*>", " ", dom)
    return re.sub(r"<[^>]+>", " ", dom)


def test_html_renders_math_offline_in_chromium(tmp_path):
    chromium = _tool("chromium", "chromium-browser", "google-chrome")
    _need("chromium", chromium is not None)
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run",
               "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={tmp_path / 'profile'}",
               "--virtual-time-budget=5000", "--dump-dom", (REPORT / "derivation.html").as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    match = re.search(r'data-math-rendered="(\d+)"', dom)
    assert match, "the page's script did not record data-math-rendered (did it load?)"
    assert int(match.group(1)) > 20, f"only {match.group(1)} <math> elements have a non-zero size"
    text = _dom_text(dom)
    assert "$$" not in text, "raw $$ TeX left in the page's text"
    assert "\\frac" not in text and "\\begin{" not in text, "raw TeX commands left in the page's text"


# --- (c) the PDF -----------------------------------------------------------------------------------------------------

def test_pdf_contains_the_peak_equation():
    pdftotext = _tool("pdftotext")
    _need("pdftotext (poppler-utils)", pdftotext is not None)
    pdf = REPORT / "derivation.pdf"
    assert pdf.is_file(), f"{STALE} (no derivation.pdf)"
    text = subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "peak_allocated" in text.replace(" ", "") or "peak allocated" in text
    assert "max" in text
    for term in ("vae_decoder_upsample_conv_output", "weights.safety_checker", "denoiser.step_inputs"):
        assert term in text.replace("\n", ""), f"term {term} missing from the PDF text"
    assert "Validation against measurements" in text


# --- (d) determinism -------------------------------------------------------------------------------------------------

#: A small bundled pipeline whose report builds quickly (HTML only).
SMALL_MODEL = "wan2.1-t2v-1.3b"


def _build_small(out):
    _need("nbclient / nbconvert / ipykernel",
          all(importlib.util.find_spec(m) for m in ("nbclient", "nbconvert", "ipykernel", "nbformat")))
    result = subprocess.run([sys.executable, "-m", "symbolic", "report", "--model", SMALL_MODEL, "--out", str(out),
                             "--no-pdf"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def small_report(tmp_path_factory):
    return _build_small(tmp_path_factory.mktemp("report") / "a")


def test_report_for_one_model_from_the_template(small_report):
    """``report --model ID`` executes the same notebook with its parameters cell replaced: the page is about that
    pipeline (its Hub id, its stages, its regimes) and has no SD-1.5-only section."""
    from symbolic.pipelines.catalog import CATALOG

    html = (small_report / "derivation.html").read_text(encoding="utf-8")
    assert CATALOG[SMALL_MODEL].hub_id in html and "transformer_step" in html
    assert "Regime 1" in html and "Symbols" in html and "Baselines" in html and "Published figures" in html
    assert "seed&#x27;s `f()`" not in html and "unet_step" not in html
    manifest = json.loads((small_report / MANIFEST).read_text())
    assert manifest["models"]["main"] == SMALL_MODEL
    assert {"derivation.html", "derivation.tex"} <= set(manifest["outputs"])


def test_html_build_is_deterministic(small_report, tmp_path):
    """Two builds of the same inputs (--no-pdf) give byte-identical HTML, LaTeX and PNG files."""
    first, second = small_report, _build_small(tmp_path / "b")
    names = sorted(p.relative_to(first).as_posix() for p in first.rglob("*") if p.is_file())
    assert {"derivation.html", "derivation.tex", "manifest.json"} <= set(names)
    assert any(n.startswith("figures/") and n.endswith(".png") for n in names)
    assert names == sorted(p.relative_to(second).as_posix() for p in second.rglob("*") if p.is_file())
    for name in names:
        if name == MANIFEST:  # its input digest follows the working tree, which may change between the builds
            continue
        assert (first / name).read_bytes() == (second / name).read_bytes(), f"{name} differs between two builds"
    manifests = [json.loads((out / MANIFEST).read_text()) for out in (first, second)]
    assert manifests[0]["outputs"] == manifests[1]["outputs"]
    assert not (first / "derivation.pdf").exists()


@pytest.mark.parametrize("model", ["nope", "sd15x", "", "SD 1.5"])
def test_unknown_model_is_a_one_line_error_naming_the_flag(tmp_path, model):
    result = subprocess.run([sys.executable, "-m", "symbolic", "report", "--model", model, "--out",
                             str(tmp_path / "out"), "--no-pdf"], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--model" in lines[0] and "sd15" in lines[0], result.stderr
    assert not (tmp_path / "out").exists()


def test_the_main_report_covers_every_family():
    from symbolic.report.build import FAMILIES, MODELS_DIR

    outputs = set(_manifest()["outputs"])
    for family in FAMILIES:
        assert f"{MODELS_DIR}/{family}/derivation.html" in outputs, f"{STALE} ({family} missing)"


def test_missing_pdflatex_is_a_one_line_error(tmp_path, monkeypatch):
    _need("nbclient / nbconvert / ipykernel",
          all(importlib.util.find_spec(m) for m in ("nbclient", "nbconvert", "ipykernel", "nbformat")))
    env = dict(os.environ, PATH=str(tmp_path))  # no pdflatex on this PATH
    result = subprocess.run([sys.executable, "-m", "symbolic", "report", "--out", str(tmp_path / "out")],
                            cwd=REPO_ROOT, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pdflatex" in lines[0] and "texlive-latex-base" in lines[0], result.stderr
    assert not (tmp_path / "out" / "derivation.html").exists()


# --- the display objects and closed forms (no tools needed) --------------------------------------------------------

def test_equations_render_as_mathml_and_latex_from_one_expression():
    import sympy as sp

    from symbolic.core.symbols import H, N, b
    from symbolic.report.display import Equation, MaxEquation
    from symbolic.report.glossary import R
    from symbolic.report.printing import term_symbol

    expr = 16384 * N * b * sp.floor(H / 8)
    eq = Equation(term_symbol("vae_decoder_upsample_interpolate"), expr)
    html, latex = eq._repr_html_(), eq._repr_latex_()
    assert html.count("<math") == 1 and "vae_decoder_upsample_interpolate" in html and "\\" not in html
    assert latex.startswith("$$") and latex.endswith("$$") and sp.latex(expr) in latex
    assert r"\mathrm{vae\_decoder\_upsample\_interpolate}" in latex
    long = MaxEquation(term_symbol("peak"), [H * k for k in range(1, 4)], ["a", "b", "c"], head=R)
    assert long._repr_html_().count("<mtr>") == 4 and r"\begin{aligned}" in long._repr_latex_()


def test_dominance_is_coefficientwise_for_both_guidance_values():
    from symbolic.core.symbols import G, N, b
    from symbolic.report.closed_forms import dominates
    from symbolic.report.glossary import h, w

    assert dominates(4 * N * b * (2081 * G * h * w + 14784 * G), 4 * N * b * (961 * G * h * w + 14784 * G))
    assert not dominates(4 * N * b * (2081 * G * h * w), 4 * N * b * (801 * G * h * w + 27104 * G))
    assert dominates(3 * N * b, (G - 1) * N * b)     # G - 1 <= 1 < 3 for G in {1, 2}


def test_closed_form_keeps_the_peak():
    import random

    from symbolic.core.evaluate.printers import exact
    from symbolic.pipelines.api import pipeline_model
    from symbolic.core.symbols import H, W
    from symbolic.report.closed_forms import closed_form
    from symbolic.report.glossary import h, w

    model = pipeline_model("sd15", task="img2img")
    form = closed_form(model)
    assert any(p.dominated_by for p in form.pieces) and form.kept
    closed = form.expr.xreplace({h: H / 8, w: W / 8})
    rng = random.Random(1)
    for _ in range(20):
        point = dict(H=8 * rng.randint(1, 400), W=8 * rng.randint(1, 400), B=rng.randint(1, 3), G=rng.randint(1, 2),
                     b=2, P=1)
        assert exact(closed, **point) == exact(model.peak_allocated, **point)


# --- the distilled equation and the symbols ------------------------------------------------------------------------

def _regimes(model_id, **config):
    from symbolic.analysis import distill
    from symbolic.pipelines.api import pipeline_model, values_of

    model = pipeline_model(model_id, **config)
    values = values_of(model.config, None, None, None, 1, None, 1)
    default = (values.pop("H"), values.pop("W"))
    regimes = distill.find_regimes(model, values, range(64, 4097, 64), default)
    distill.label_addends(regimes)
    return model, values, regimes


@pytest.mark.parametrize("model_id, config", [("sd15", {"task": "img2img"}), ("sdxl", {}), ("flux.1-dev", {}),
                                              ("wan2.1-t2v-1.3b", {}), ("sd15", {"attention_backend": "math"})])
def test_distilled_tally_equals_the_closed_form(model_id, config):
    """The named addends sum to the model's expression of each regime, the tally of named coefficients is the
    distilled polynomial, which equals the exact model at random sizes where its rounding is exact; and the regime
    found is the model's peak at its sides."""
    import random

    import sympy as sp

    from symbolic.analysis import distill
    from symbolic.core.evaluate.printers import exact

    model, values, regimes = _regimes(model_id, **config)
    assert regimes
    rng = random.Random(hash(model_id) % 1000)
    for regime in regimes:
        distill.check_regime(model, regime, values, points=8, seed=rng.randint(0, 10**6))
        total = regime.weights + sp.Add(*(m * sp.Add(*(c for _, c in pairs)) for m, pairs in regime.groups()))
        assert sp.expand(total - regime.poly) == 0
        side = rng.randint(regime.sides[0] // 64, regime.sides[1] // 64) * 64
        point = dict(values, H=side, W=side)
        assert exact(regime.exact, **point) == exact(model.peak_allocated, **point)


def test_distilled_sd15_names_the_decode_blocks():
    """SD 1.5 at default SDPA: one regime above 64 px, the VAE decode, b B H W (1/8 + 192 + 256 + 256 + 512)."""
    import sympy as sp

    from symbolic.core.symbols import B, H, W, b

    _, _, regimes = _regimes("sd15", task="img2img")
    decode = [r for r in regimes if r.stage == "vae_decode"]
    assert len(decode) == 1
    groups = dict(decode[0].groups())
    names = {a.name: c for a, c in groups[b * B * H * W]}
    assert names["vae_decoder_upsample_conv_output"] == 256 and names["vae_decoder_conv_workspace"] == 512
    assert sum(names.values()) == sp.Rational(9729, 8)


def test_symbol_table_has_one_meaning_per_symbol():
    import sympy as sp

    from symbolic.pipelines.api import pipeline_model
    from symbolic.analysis import video_latent as latent
    from symbolic.report import glossary as rg
    from symbolic.report.printing import PRINTED_NAMES, register_symbol

    rg.check_one_meaning()
    exprs = [pipeline_model(m).peak_allocated for m in ("sd15", "flux.1-dev", "wan2.1-t2v-1.3b")]
    exprs += [latent.LATENT_T, latent.LATENT_H, latent.LATENT_BYTES, latent.PATCHED_TOKENS]
    table = rg.glossary(exprs, extra=["M_w", "R", "a", "n", "h", "w"])
    printed = [g.printed for g in table]
    assert len(printed) == len(set(printed)), printed
    assert len({g.meaning for g in table}) == len(table)
    assert {"T", "s", "a", "n"} <= set(printed)   # frames, spatial compression, square side, sequence length
    clash = sp.Symbol("s_sp_clash")
    rg.REPORT_SYMBOLS[clash.name] = "something else"
    register_symbol(clash.name, "s", "<mi>s</mi>")
    try:
        with pytest.raises(ValueError, match="two things|prints like"):
            rg.glossary([latent.LATENT_H, clash])
        with pytest.raises(ValueError, match="prints like"):
            rg.check_one_meaning()
    finally:
        del rg.REPORT_SYMBOLS[clash.name]
        del PRINTED_NAMES[clash.name]


def test_markdown_and_text_escape_for_latex():
    from symbolic.report.markdown_latex import markdown_to_latex
    from symbolic.report.printing import latex_escape

    latex = markdown_to_latex("## Title_x\n\nSome `code_y` and *it* & 50% $5.\n\n- a\n- b\n")
    assert r"\section{Title\_x}" in latex and r"\texttt{code\_\allowbreak{}y}" in latex
    assert r"\& 50\% \$5" in latex and r"\begin{itemize}" in latex
    assert latex_escape("a_b{c}^~\\") == r"a\_b\{c\}\textasciicircum{}\textasciitilde{}\textbackslash{}"
