"""Build the derivation report: execute ``notebooks/derivation.ipynb`` headless and write ``report/``.

``python -m symbolic report [--out report] [--no-pdf]`` runs :func:`build_all`: the SD 1.5 report (``report/
derivation.{html,tex,pdf}``) and one per pipeline family (``report/models/<id>/derivation.html``, ``FAMILIES``), all
from the same notebook, a template whose cell tagged ``parameters`` holds ``MODEL = "sd15"``; ``--model ID --out DIR``
runs :func:`build` for one bundled id (``symbolic.pipelines.catalog.CATALOG``) into ``DIR``. Each build:

1. replace the parameters cell with ``MODEL = "<id>"`` and execute the notebook with nbclient (a fresh ``python3`` kernel, working directory the repository root,
   ``PYTHONHASHSEED=0``, no ``SYMBOLIC_*`` framework overrides, figures saved into a temporary directory);
2. strip execution metadata and export HTML (nbconvert's ``lab`` template without its MathJax, RequireJS and
   Mermaid scripts: every equation is MathML, so the page needs no network; a tiny inline script counts the
   rendered ``<math>`` elements into ``document.body.dataset.mathRendered``) and LaTeX (nbconvert's LaTeX
   template with the notebook's Markdown converted by ``markdown_latex.markdown_to_latex``, so no pandoc);
3. run ``pdflatex`` twice (``SOURCE_DATE_EPOCH=0``, ``FORCE_SOURCE_DATE=1``, ``\\pdftrailerid{}``: reproducible
   bytes) unless ``--no-pdf``;
4. write ``manifest.json`` (the digest of the inputs, the sha256 of every output, the per-family pages included) and
   move every file into place with ``os.replace``.

Two builds of the same inputs give byte-identical HTML, LaTeX and PNG files (and PDF, with the same TeX Live).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO_ROOT / "notebooks" / "derivation.ipynb"
MEASUREMENTS = REPO_ROOT / "data" / "measurements"
#: Where the notebook saves its figures (``symbolic.report.figures``): set by the build (a temporary directory),
#: else ``report/figures``.
FIGURES_ENV = "SYMBOLIC_REPORT_FIGURES"
STEM = "derivation"
MANIFEST = "manifest.json"
#: The offline planner page (``symbolic.report.planner``), written by the full build.
PLANNER = "planner.html"
#: The model the notebook's parameters cell names when it is executed as it is.
DEFAULT_MODEL = "sd15"
#: One report per pipeline family besides SD 1.5 (``report/models/<id>/derivation.html``).
FAMILIES = ("sdxl", "sd3.5-medium", "flux.1-dev", "qwen-image", "ltx-video", "cogvideox-2b", "wan2.1-t2v-1.3b",
            "hunyuanvideo")
#: Where the family reports go, under the main report's directory.
MODELS_DIR = "models"
#: The tag of the notebook cell that holds the parameters (papermill's convention).
PARAMETERS_TAG = "parameters"
#: Debian packages that provide pdflatex and the LaTeX packages nbconvert's template loads (scripts/setup-system.sh).
TEX_PACKAGES = ("texlive-latex-base texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended "
                "lmodern")
#: Environment variables that would change the model's constants (``symbolic.runtime.framework``): not passed to the kernel.
FRAMEWORK_ENV_PREFIX = "SYMBOLIC_"
KEEP_ENV = ("SYMBOLIC_CACHE_DIR",)

HTML_TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{#- No remote scripts: equations are MathML, so MathJax, RequireJS, Mermaid and widgets are left out. -#}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block extra_css -%}
<style type="text/css">
main { max-width: 1100px; margin: 0 auto; }
.jp-RenderedHTMLCommon p, .jp-RenderedHTMLCommon li { line-height: 1.5; }
.sym-eq { overflow-x: auto; overflow-y: hidden; margin: 0.4em 0; padding: 0.15em 0; }
.sym-eq math { font-size: 1.1em; }
.sym-eq mtd { text-align: left; padding: 0.1em 0; }
.sym-eq mtd.sym-lhs { text-align: right; }
.sym-eq mtd.sym-note { padding-left: 2em; color: #555; font-size: 0.85em; }
.sym-small { font-size: 0.85em; color: #444; }
.jp-RenderedHTMLCommon table.sym-table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; table-layout: auto; }
.jp-RenderedHTMLCommon table.sym-table th, .jp-RenderedHTMLCommon table.sym-table td {
  border-bottom: 1px solid #ddd; padding: 0.2em 0.6em; text-align: left; vertical-align: top; max-width: 40em;
  overflow-wrap: anywhere; }
.jp-RenderedHTMLCommon table.sym-table td.sym-num { text-align: right; font-variant-numeric: tabular-nums; }
.jp-RenderedHTMLCommon table.sym-table caption { caption-side: top; font-size: 0.9em; color: #444; text-align: left; }
.sym-figure img { max-width: 100%; }
.sym-figure figcaption { font-size: 0.85em; color: #444; }
.sym-block h3, .sym-block h4 { margin-top: 1.2em; }
</style>
{%- endblock extra_css -%}
{% block footer_js %}
<script>
window.addEventListener("load", function () {
  var count = 0;
  document.querySelectorAll("math").forEach(function (m) {
    var r = m.getBoundingClientRect();
    if (r.width > 0 && r.height > 0) { count += 1; }
  });
  document.body.dataset.mathRendered = String(count);
});
</script>
{% endblock footer_js %}
"""

LATEX_TEMPLATE = r"""((*- extends 'index.tex.j2' -*))
((* block packages *))
% The packages this document needs, all in texlive-latex-base/-recommended/-extra (nbconvert's own list adds ulem
% and soul for pandoc's strikethrough, which this document does not use).
\usepackage[breakable]{tcolorbox}
\usepackage{parskip}
\usepackage{graphicx}
\setkeys{Gin}{keepaspectratio}
\usepackage{caption}
\usepackage{float}
\usepackage{xcolor}
\usepackage{geometry}
\usepackage{amsmath}
\usepackage{amssymb}
\usepackage{textcomp}
\usepackage{upquote}
\usepackage{iftex}
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\usepackage{lmodern}
\usepackage{fancyvrb}
\usepackage[Export]{adjustbox}
\usepackage{hyperref}
\usepackage{titling}
\usepackage{longtable}
\usepackage{booktabs}
\usepackage{array}
\usepackage{calc}
\usepackage[inline]{enumitem}
\usepackage{mathrsfs}
% Reproducible bytes: no trailer /ID, no PTEX.* info (dates come from SOURCE_DATE_EPOCH).
\ifPDFTeX
  \pdftrailerid{}
  \pdfsuppressptexinfo=-1
\fi
((* endblock packages *))
((* block date *))\date{}((* endblock date *))
((* block author *))\author{((( nb.metadata.get('authors', [{'name': ''}]) | join(', ', attribute='name') | escape_latex )))}((* endblock author *))
((* block margins *))\geometry{verbose,tmargin=0.9in,bmargin=0.9in,lmargin=0.9in,rmargin=0.9in}((* endblock margins *))
((* block markdowncell scoped *))
((( cell.source | md2latex )))
((* endblock markdowncell *))
"""


class ReportError(ValueError):
    """A problem the user can fix (a missing tool or package): one line, exit status 2."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def input_digest(notebook: Path = NOTEBOOK, measurements: Path = MEASUREMENTS) -> str:
    """Digest of everything the report is built from: the package's sources (``symbolic.core.evaluate.cache.source_digest``),
    the notebook's bytes and every file under ``data/measurements``."""
    from symbolic.core.evaluate.cache import source_digest

    digest = hashlib.sha256()
    digest.update(f"package:{source_digest()}\n".encode())
    digest.update(b"notebook:" + Path(notebook).read_bytes())
    for path in sorted(p for p in Path(measurements).rglob("*") if p.is_file()):
        digest.update(f"\nmeasurement:{path.relative_to(measurements).as_posix()}:".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def output_hashes(out: Path, names) -> dict[str, str]:
    return {name: _sha256(Path(out) / name) for name in sorted(names)}


def _log(message: str) -> None:
    print(f"report: {message}", file=sys.stderr, flush=True)


def _require_modules():
    import importlib.util

    for name in ("nbclient", "nbconvert", "nbformat", "ipykernel", "jinja2", "mistune"):
        if importlib.util.find_spec(name) is None:
            raise ReportError(f"{name} is not installed: pip install -e '.[report]' (jupyter, nbconvert, nbclient, "
                              "nbformat, ipykernel)")


def _kernel_env(figures: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(FRAMEWORK_ENV_PREFIX) or k in KEEP_ENV}
    env.update({"PYTHONHASHSEED": "0", FIGURES_ENV: str(figures), "MPLBACKEND": "Agg",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))})
    return env


def check_model(model: str) -> str:
    """A bundled id (``CATALOG``) as the catalog spells it; a ReportError naming ``--model`` otherwise."""
    from symbolic.pipelines.catalog import CATALOG

    key = model.strip().lower() if isinstance(model, str) else model
    if key not in CATALOG:
        raise ReportError(f"--model: unknown model {model!r}; bundled: {', '.join(CATALOG)}")
    return key


def parameterised(notebook: Path, model: str):
    """The notebook (nbformat node) with its ``parameters`` cell set to ``MODEL = "<model>"`` and its title naming
    the pipeline."""
    import nbformat

    from symbolic.pipelines.catalog import CATALOG

    nb = nbformat.read(str(notebook), as_version=4)
    cells = [c for c in nb.cells if PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise RuntimeError(f"{notebook}: expected one cell tagged {PARAMETERS_TAG!r}, found {len(cells)}")
    cells[0].source = f"MODEL = {model!r}"
    nb.metadata["title"] = f"Peak GPU memory of {CATALOG[model].hub_id} inference: equation, derivation, validation"
    return nb


def execute(nb, figures: Path, timeout: int = 600):
    """The executed notebook (nbformat node; a path is read first), execution metadata stripped."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    if isinstance(nb, (str, Path)):
        nb = nbformat.read(str(nb), as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            extra_arguments=["--IPKernelApp.log_level=ERROR"],
                            resources={"metadata": {"path": str(REPO_ROOT)}})
    try:
        client.execute(env=_kernel_env(figures), cwd=str(REPO_ROOT))
    except CellExecutionError as exc:
        raise RuntimeError(f"the notebook failed:\n{exc}") from None
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.execution_count = None
            for output in cell.get("outputs", []):
                if "execution_count" in output:
                    output["execution_count"] = None
    nb.metadata.pop("widgets", None)
    return nb


def export_html(nb) -> str:
    import jinja2
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", extra_loaders=[jinja2.DictLoader({"symbolic.html.j2": HTML_TEMPLATE})],
                            template_file="symbolic.html.j2", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, mathjax_url="", require_js_url="")
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": STEM}})
    check_offline(body)
    return body


def check_offline(html_text: str) -> None:
    """Refuse HTML that loads a script, stylesheet or anything else from the network."""
    import re

    remote = re.findall(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", html_text,
                        flags=re.IGNORECASE)
    imports = re.findall(r"""@import\s+(?:url\()?["']?(?:https?:)?//""", html_text, flags=re.IGNORECASE)
    if remote or imports:
        raise RuntimeError(f"the HTML references remote resources: {(remote + imports)[:3]}")


def export_latex(nb) -> str:
    import jinja2
    from nbconvert import LatexExporter

    from symbolic.report.markdown_latex import markdown_to_latex

    exporter = LatexExporter(extra_loaders=[jinja2.DictLoader({"symbolic.tex.j2": LATEX_TEMPLATE})],
                             template_file="symbolic.tex.j2", exclude_input=True, exclude_input_prompt=True,
                             exclude_output_prompt=True, filters={"md2latex": markdown_to_latex})
    body, resources = exporter.from_notebook_node(nb, resources={"metadata": {"name": STEM}})
    if resources.get("outputs"):
        raise RuntimeError(f"unexpected extracted outputs in the LaTeX export: {sorted(resources['outputs'])}")
    return body


def pdflatex(directory: Path, tex_name: str) -> Path:
    """Run pdflatex twice (cross references) with fixed dates; the PDF's bytes depend only on the input."""
    env = dict(os.environ, SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1", TZ="UTC")
    command = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex_name]
    for _ in range(2):
        result = subprocess.run(command, cwd=directory, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            tail = result.stdout.decode(errors="replace").splitlines()[-25:]
            raise RuntimeError("pdflatex failed:\n" + "\n".join(tail))
    return directory / (Path(tex_name).stem + ".pdf")


def check_tools(pdf: bool) -> None:
    _require_modules()
    if pdf and shutil.which("pdflatex") is None:
        raise ReportError(f"pdflatex not found: install {TEX_PACKAGES} (see scripts/setup-system.sh), or pass --no-pdf")


def build(out: Path | str = "report", pdf: bool = True, notebook: Path | str = NOTEBOOK,
          model: str = DEFAULT_MODEL, families: tuple[str, ...] = (), planner: bool = False) -> dict:
    """Execute the notebook for ``model`` and write ``out/`` (HTML, LaTeX, figures, the PDF unless ``pdf`` is
    False), for each of ``families`` ``out/models/<id>/derivation.html``, and with ``planner`` the offline planner
    page ``out/planner.html`` (``symbolic.report.planner``); returns the manifest, which lists every output."""
    out, notebook = Path(out).resolve(), Path(notebook).resolve()
    model = check_model(model)
    families = tuple(check_model(f) for f in families)
    if not notebook.is_file():
        raise ReportError(f"notebook not found: {notebook}")
    check_tools(pdf)
    started = time.monotonic()
    digest = input_digest(notebook)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".report-build-", dir=out.parent))
    timings = {}
    try:
        figures = staging / "figures"
        figures.mkdir()
        _log(f"executing notebook {_show(notebook)} for {model} ...")
        nb = execute(parameterised(notebook, model), figures)
        timings[model] = round(time.monotonic() - started, 1)
        _log(f"executed in {timings[model]:.1f} s")
        _log("writing html ...")
        (staging / f"{STEM}.html").write_text(export_html(nb), encoding="utf-8")
        _log("writing tex ...")
        (staging / f"{STEM}.tex").write_text(export_latex(nb), encoding="utf-8")
        names = [f"{STEM}.html", f"{STEM}.tex"] + [f"figures/{p.name}" for p in sorted(figures.glob("*.png"))]
        if pdf:
            _log("running pdflatex (2 passes) ...")
            pdflatex(staging, f"{STEM}.tex")
            names.append(f"{STEM}.pdf")
        names += _build_families(notebook, staging, families, timings)
        if planner:
            from symbolic.report.planner import write_planner

            _log("writing the planner page ...")
            write_planner(staging / PLANNER)
            names.append(PLANNER)
        manifest = {"built_by": "python -m symbolic report", "input_digest": digest,
                    "inputs": {"package": "symbolic/ (symbolic.core.evaluate.cache.source_digest)",
                               "notebook": _relative(notebook), "measurements": _relative(MEASUREMENTS)},
                    "models": {"main": model, **{f: f"{MODELS_DIR}/{f}/{STEM}.html" for f in families}},
                    "outputs": output_hashes(staging, names)}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        _install(staging, out, names + [MANIFEST], pdf)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _log(f"wrote {_show(out)}/ ({len(manifest['outputs'])} files) in {time.monotonic() - started:.1f} s "
         f"(notebook seconds per model: {timings})")
    return manifest


def build_all(out: Path | str = "report", pdf: bool = True, notebook: Path | str = NOTEBOOK) -> dict:
    """SD 1.5 (the main report, with its PDF), every family of ``FAMILIES`` (HTML) and the planner page into
    ``out``."""
    return build(out, pdf=pdf, notebook=notebook, model=DEFAULT_MODEL, families=FAMILIES, planner=True)


#: Family notebooks executed at once (each a kernel of its own; the build machine may have few cores).
FAMILY_WORKERS = 2


def family_page(notebook: str, model: str, scratch: str) -> tuple[str, float]:
    """(HTML, seconds) of the notebook executed for ``model`` (run in a worker process)."""
    started = time.monotonic()
    figures = Path(scratch) / model / "figures"
    figures.mkdir(parents=True)
    nb = execute(parameterised(Path(notebook), model), figures)
    return export_html(nb), round(time.monotonic() - started, 1)


def _build_families(notebook: Path, staging: Path, families: tuple[str, ...], timings: dict) -> list[str]:
    """Each family's page into ``staging/models/<id>/derivation.html``; their names."""
    if not families:
        return []
    import concurrent.futures
    import multiprocessing

    _log(f"executing the notebook for {len(families)} families ({FAMILY_WORKERS} at a time) ...")
    scratch = staging / ".families"
    context = multiprocessing.get_context("spawn")
    names = []
    with concurrent.futures.ProcessPoolExecutor(max_workers=FAMILY_WORKERS, mp_context=context) as pool:
        futures = {f: pool.submit(family_page, str(notebook), f, str(scratch)) for f in families}
        for family, future in futures.items():
            html_text, seconds = future.result()
            timings[family] = seconds
            target = staging / MODELS_DIR / family / f"{STEM}.html"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(html_text, encoding="utf-8")
            names.append(target.relative_to(staging).as_posix())
            _log(f"{family}: {seconds:.1f} s")
    shutil.rmtree(scratch, ignore_errors=True)
    return names


def _install(staging: Path, out: Path, names: list[str], pdf: bool) -> None:
    """Move each built file into ``out`` with ``os.replace``; drop figures (and a PDF) the build did not make."""
    (out / "figures").mkdir(exist_ok=True)
    for name in names:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / name, out / name)
    keep = {name for name in names}
    for stale in sorted((out / "figures").glob("*.png")):
        if f"figures/{stale.name}" not in keep:
            stale.unlink()
    if not pdf and (out / f"{STEM}.pdf").exists():
        (out / f"{STEM}.pdf").unlink()
        _log(f"removed the old {STEM}.pdf (built with --no-pdf: it would no longer match)")


def _relative(path: Path) -> str:
    """``path`` relative to the repository (the manifest must not depend on where the build ran)."""
    try:
        return Path(path).resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return Path(path).name


def _show(path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)
