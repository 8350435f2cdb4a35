"""The offline planner page (``symbolic.report.planner``) against the Python API, in headless Chromium.

A page of a few bundled models (sd15 and two drawn at random) is generated into tmp_path and loaded once with
``points=`` (a JSON list of parameter sets, each as the URL would carry it); every result the page writes into
``#result`` must equal ``symbolic.pipelines.api.estimate`` exactly, including points past 2**53 bytes, and every
point the API refuses must be refused by the page (a message, no numbers). Chromium missing: skipped, unless
``SYMBOLIC_REQUIRE_REPORT_TOOLS=1`` (as tests/report/test_report.py). The seed is printed on failure; ``PLANNER_SEED``
replays it.
"""
from __future__ import annotations

import html
import json
import os
import random
import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import pytest

from symbolic.pipelines.catalog import CATALOG
from symbolic.core.checks import RuleKind
from symbolic.pipelines.api import SIZE_RULES, estimate
from symbolic.report.planner import write_planner
from symbolic.core.units import parse_size
from symbolic.core.checks import parse_int

REQUIRE = os.environ.get("SYMBOLIC_REQUIRE_REPORT_TOOLS") == "1"
SEED = int(os.environ.get("PLANNER_SEED") or random.SystemRandom().randrange(2**32))
#: Keys a refused point must not carry (no number shown for an invalid request).
NUMBER_KEYS = ("peak_allocated_bytes", "stages", "weights_bytes", "min_gpu_memory_bytes", "peak_reserved_bytes",
               "nvidia_smi_bytes", "fits")
POINTS_PER_MODEL = 6


def _chromium() -> str:
    found = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    if found is None:
        message = "chromium not available (scripts/setup-system.sh installs it)"
        if REQUIRE:
            pytest.fail(f"SYMBOLIC_REQUIRE_REPORT_TOOLS=1 but {message}")
        pytest.skip(message)
    return found


def _dump(page: Path, query: str, profile: Path) -> str:
    command = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run",
               "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}", "--dump-dom",
               page.as_uri() + query]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _element(dom: str, element_id: str) -> str:
    match = re.search(rf'<(\w+) id="{element_id}"[^>]*>(.*?)</\1>', dom, re.S)
    assert match, f"no #{element_id} in the page (did its script run?)"
    return html.unescape(match.group(2))


def _data(page: Path) -> dict:
    return json.loads(_element(page.read_text(encoding="utf-8"), "planner-data"))


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    rng = random.Random(SEED)
    models = ("sd15", *rng.sample(sorted(set(CATALOG) - {"sd15"}), 2))
    return write_planner(tmp_path_factory.mktemp("planner") / "planner.html", models)


def _api(point: dict) -> dict:
    """The API's answer for one page point (parameters as strings), as ``estimate --json`` writes it."""
    kwargs = {"task": point.get("task"), "dtype": point.get("dtype"),
              "memory_options": tuple(point.get("memory_option", ()))}
    for name in ("height", "width", "frames", "batch"):
        if name in point:
            kwargs[name] = parse_int(point[name], name)  # the CLI's grammar
    result = estimate(point["model"], **kwargs)
    if "gpu_memory" in point:
        budget = parse_size(point["gpu_memory"], argument="gpu_memory")
        result = dict(result, gpu_memory_bytes=budget, fits=result["min_gpu_memory_bytes"] <= budget)
    return json.loads(json.dumps(result))


def _random_points(rng: random.Random, data: dict) -> list[dict]:
    points = []
    for model, facts in data["models"].items():
        for i in range(POINTS_PER_MODEL):
            task = rng.choice(list(facts["tasks"]))
            offered = facts["tasks"][task]["points"]
            dtype = rng.choice([""] + [d for d in data["dtypes"] if f"{d}|" in offered])
            switch = rng.choice([""] + [s for s in data["switches"] if f"{dtype}|{s}" in offered])
            multiple = facts["tasks"][task]["size_facts"]["min_size"]
            point = {"model": model, "task": task}
            huge = i == 0  # past 2**53 bytes: BigInt on the page, int in Python
            if huge or rng.random() < 0.8:
                side = (lambda: multiple * 2**12) if huge else (lambda: multiple * rng.randint(1, 2048 // multiple))
                point["height"], point["width"] = str(side()), str(side())
            if huge or rng.random() < 0.8:
                point["batch"] = str(2**20 if huge else rng.randint(1, 4))
            if facts["video"] and rng.random() < 0.8:
                point["frames"] = str(rng.randint(1, 129))
            if dtype:
                point["dtype"] = dtype
            if switch:
                point["memory_option"] = [switch]
            if rng.random() < 0.7:
                point["gpu_memory"] = rng.choice([f"{rng.randint(4, 141)}GiB", f"{rng.randint(4, 141)}GB"])
            points.append(point)
    return points


def _refused_points(rng: random.Random, data: dict) -> list[dict]:
    """Points the API refuses: each must come back as a message."""
    points = []
    for model, facts in data["models"].items():
        task = next(iter(facts["tasks"]))
        multiple = facts["tasks"][task]["size_facts"]["size_multiple"]
        offered = facts["tasks"][task]["points"]
        if multiple > 1:
            points.append({"model": model, "height": str(multiple * rng.randint(1, 64) + 1)})
        points.append({"model": model, "batch": rng.choice(["0", "-2", "1.5", "2e3", "", "x"])})
        if not facts["video"]:
            points.append({"model": model, "frames": str(rng.randint(1, 50))})
        refused = [s for s in data["switches"] if f"|{s}" not in offered]
        if refused:
            points.append({"model": model, "memory_option": [rng.choice(refused)]})
        points.append({"model": model, "dtype": "fp7"})
    return points


def test_page_matches_the_api_on_random_points(page, tmp_path):
    data = _data(page)
    rng = random.Random(SEED)
    points = _random_points(rng, data)
    refused = _refused_points(rng, data)
    query = "?points=" + urllib.parse.quote(json.dumps(points + refused))
    results = json.loads(_element(_dump(page, query, tmp_path / "profile"), "result"))
    assert len(results) == len(points) + len(refused)
    beyond_float = 0
    for point, got in zip(points, results):
        want = _api(point)
        assert got == want, f"seed {SEED}: page differs from the API at {point}"
        beyond_float += want["peak_reserved_bytes"] > 2**53
    assert beyond_float, f"seed {SEED}: no point past 2**53 bytes was checked"
    for point, got in zip(refused, results[len(points):]):
        with pytest.raises(ValueError):
            _api(point)
        assert set(got) == {"error"} and got["error"], f"seed {SEED}: page did not refuse {point}: {got}"


def _rule_points(data: dict) -> list[dict]:
    """For every model and task of the page and every rule of ``api.SIZE_RULES``: a point just inside and one just
    outside the rule (the sub-pixel img2img size included), the other size at its default."""
    points = []
    for model, facts in data["models"].items():
        for task, offered in facts["tasks"].items():
            bounds = offered["size_facts"]
            for rule in SIZE_RULES:
                bound = bounds[rule.bound]
                if rule.kind is RuleKind.AT_LEAST:
                    values = [bound, bound - 1, 1]
                else:
                    values = [bound * 3, bound * 3 + 1]
                for value in values:
                    if value >= 1:
                        points.append({"model": model, "task": task, rule.argument: str(value)})
    return points


def test_every_size_rule_answers_as_the_api_does(page, tmp_path):
    """Each rule of the one table, in the API and on the page, on the same inputs: the same refusal, word for word,
    or the same numbers (``planner.html?model=sd15&task=img2img&height=4`` was answered with an empty latent)."""
    points = _rule_points(_data(page))
    assert any(p.get("task") == "img2img" and p.get("height") == "4" for p in points)
    query = "?points=" + urllib.parse.quote(json.dumps(points))
    results = json.loads(_element(_dump(page, query, tmp_path / "profile"), "result"))
    refused = 0
    for point, got in zip(points, results, strict=True):
        try:
            want = _api(point)
        except ValueError as exc:
            refused += 1
            assert got == {"error": str(exc)}, f"page and API differ at {point}"
        else:
            assert got == want, f"page and API differ at {point}"
    assert refused >= len(points) // 3


def test_the_page_offers_a_switch_exactly_where_the_api_accepts_it(page):
    """A random sample of (model, task, dtype, switch): offered on the page exactly when the API evaluates it."""
    data = _data(page)
    rng = random.Random(SEED)
    combinations = [(model, task, dtype, switch) for model, facts in data["models"].items() for task in facts["tasks"]
                    for dtype in ("", *data["dtypes"]) for switch in ("", *data["switches"])]
    for model, task, dtype, switch in rng.sample(combinations, 12):
        try:
            estimate(model, task=task, dtype=dtype or None, memory_options=(switch,) if switch else ())
            accepted = True
        except ValueError:
            accepted = False
        offered = f"{dtype}|{switch}" in data["models"][model]["tasks"][task]["points"]
        assert offered == accepted, f"seed {SEED}: {(model, task, dtype, switch)} offered={offered}"


def test_invalid_url_parameter_shows_a_message_and_no_numbers(page, tmp_path):
    query = "?model=sd15&height=513&width=512&gpu_memory=24GiB"
    dom = _dump(page, query, tmp_path / "profile")
    result = json.loads(_element(dom, "result"))
    assert set(result) == {"error"} and result["error"].startswith("height:"), result
    assert "height" in _element(dom, "message")
    view = _element(dom, "view")
    assert "GiB" not in view and not re.search(r"\d", view), "numbers shown for an invalid request"
    for key in NUMBER_KEYS:
        assert key not in result


def test_url_parameters_drive_the_page(page, tmp_path):
    """The form path (no points=): CLI names, a repeated 'none', an alias spelling, and the bars drawn."""
    query = "?model=sd15&height=1024&width=768&batch=2&memory_option=vae_tiling&memory_option=none&gpu-memory=12GiB"
    dom = _dump(page, query, tmp_path / "profile")
    got = json.loads(_element(dom, "result"))
    want = _api({"model": "sd15", "height": "1024", "width": "768", "batch": "2", "memory_option": ["vae_tiling"],
                 "gpu_memory": "12GiB"})
    assert got == want
    assert dom.count('class="row') == len(want["stages"])


def test_page_is_self_contained(page):
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"https?://", text), "the page references the network"
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=|@import|url\(", text), "the page loads an external resource"
    assert len(text.encode()) < 1.5 * 2**20


def _random_expression(rng: random.Random, symbols: list, depth: int, built: list):
    """A random closed form of the kinds the models hold (sums and products with rational coefficients, floor,
    ceiling, Max, Min, Piecewise, Mod, a reciprocal), reusing earlier subtrees so that sharing is exercised."""
    import sympy as sp

    if built and rng.random() < 0.2:
        return rng.choice(built)
    if depth == 0 or rng.random() < 0.25:
        pick = rng.random()
        if pick < 0.45:
            return rng.choice(symbols)
        if pick < 0.75:
            return sp.Integer(rng.choice([rng.randint(-50, 50), rng.randint(-2**70, 2**70)]))
        return sp.Rational(rng.randint(-10**6, 10**6), rng.randint(1, 997))
    sub = [_random_expression(rng, symbols, depth - 1, built) for _ in range(rng.randint(2, 3))]
    kind = rng.randrange(9)
    node = [lambda: sp.Add(*sub), lambda: sp.Mul(*sub[:2]), lambda: sp.floor(sp.Add(*sub)),
            lambda: sp.ceiling(sp.Add(*sub)), lambda: sp.Max(*sub), lambda: sp.Min(*sub),
            lambda: sp.Piecewise((sub[0], sp.Or(sp.Ge(sub[1], rng.randint(1, 4096)), sp.Lt(sub[0], 0))),
                                 (sub[1], True), evaluate=False),
            lambda: sp.Mod(sub[0], rng.randint(1, 97)),
            lambda: sub[0] / rng.choice(symbols)][kind]
    try:
        node = node()
    except ValueError:  # SymPy's own simplification of a random form can fail ("nan is not comparable")
        node = sp.Add(*sub)
    built.append(node)
    return node


def test_printer_is_exact_on_random_expressions(tmp_path):
    """``ExactJavascriptPrinter`` against SymPy's own exact value: random expressions over positive integer symbols,
    evaluated by the page's runtime in Chromium at random points (beyond 2**53 too)."""
    import sympy as sp

    from symbolic.report.planner.javascript import RUNTIME, function_source
    from symbolic.core.symbols import ARG_NAMES, symbol

    rng = random.Random(SEED)
    names = ["H", "W", "B", "T", "N", "P"]  # N and P: also runtime-looking names, must not collide
    symbols = [symbol(n) for n in names]
    expressions, built = [], []
    while len(expressions) < 40:
        e = _random_expression(rng, symbols, 4, built)
        if not e.is_number:
            expressions.append(e)
    points = [{n: rng.choice([rng.randint(1, 4096), rng.randint(1, 2**80)]) for n in names} for _ in range(6)]
    args = [[str(p.get(n, 1)) for n in ARG_NAMES] for p in points]
    script = (f"{RUNTIME}\nconst f=({function_source(expressions)});\nconst points={json.dumps(args)};\n"
              "document.getElementById('result').textContent=JSON.stringify(points.map((p)=>"
              "f(...p.map((v)=>$q(BigInt(v)))).map((x)=>x[0]+'/'+x[1])));")
    page = tmp_path / "printer.html"
    page.write_text(f'<!DOCTYPE html><html><body><pre id="result"></pre><script>{script}</script></body></html>')
    got = json.loads(_element(_dump(page, "", tmp_path / "profile"), "result"))
    for point, values in zip(points, got):
        subs = {symbol(n): sp.Integer(v) for n, v in point.items()}
        for expression, value in zip(expressions, values):
            exact = sp.Rational(expression.xreplace(subs))
            assert value == f"{exact.p}/{exact.q}", f"seed {SEED}: {expression} at {point}"
