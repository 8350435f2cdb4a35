"""The on-disk cache runs nothing it did not write: a planted entry is never executed, entries and directories that
others can write are refused, each entry is tied to this build and question and checked for shape (a bad one is
rebuilt, never a traceback), generated code is checked against a whitelist grammar before it runs, and an unsafe
default location means no cache."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import sympy as sp

from symbolic.core.evaluate import cache
from symbolic.core.evaluate import runtime
from symbolic.core.evaluate.runtime import compile_exact, exact_parameters
from symbolic.core.evaluate.printers import exact_source
from symbolic.pipelines import api as pipeline_estimate
from symbolic.core.symbols import ARG_NAMES, H, W

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
OTHER_UID = 65534  # nobody

GOOD = {"args": ["H"], "outputs": {"x": "lambda _H: _H + 1"}}
PLANTED = {"args": ["H"], "outputs": {"x": "lambda _H: 7"}}  # passes every check on its content: only where it lies stops it


def malicious(marker: Path) -> str:
    """Runs ``marker.touch()`` when evaluated (``eval`` of the whole source, before any call)."""
    return f"(lambda *a: 0) if __import__('pathlib').Path({str(marker)!r}).touch() else (lambda *a: 0)"


@pytest.fixture
def cache_in(tmp_path, monkeypatch):
    """``SYMBOLIC_CACHE_DIR`` -> a fresh private directory (made by the cache itself); the callers' memo cleared."""
    directory = tmp_path / "cache"
    monkeypatch.setenv("SYMBOLIC_CACHE_DIR", str(directory))
    pipeline_estimate.cached_entry.cache_clear()
    yield directory
    pipeline_estimate.cached_entry.cache_clear()


def counting(entry):
    calls = []

    def build():
        calls.append(1)
        return json.loads(json.dumps(entry))

    return build, calls


def plant(directory: Path, namespace: str, key: str, content, mode: int = 0o600) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / cache._file_name(namespace, key)
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    os.chmod(path, mode)
    return path


def assert_good_entry(path: Path, namespace: str, key: str, entry) -> None:
    status = path.stat()
    assert stat.S_IMODE(status.st_mode) == 0o600 and status.st_uid == os.getuid()
    assert cache._unseal(json.loads(path.read_text()), namespace, key) == entry


# --- where the cache lives ---------------------------------------------------------------------------------------

def test_directory_is_created_private_and_entries_0600(tmp_path, monkeypatch):
    directory = tmp_path / "a" / "cache"
    monkeypatch.setenv("SYMBOLIC_CACHE_DIR", str(directory))
    build, calls = counting(GOOD)
    assert cache.load_or_build("t", "k", build) == GOOD
    assert cache.load_or_build("t", "k", build) == GOOD
    assert calls == [1]  # the second call is a hit
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert_good_entry(directory / cache._file_name("t", "k"), "t", "k", GOOD)
    assert [p.name for p in directory.iterdir()] == [cache._file_name("t", "k")]  # no temporary left behind


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702, 0o1777], ids=oct)
def test_directory_writable_by_others_is_not_used(tmp_path, monkeypatch, mode):
    directory = tmp_path / "shared"
    planted = plant(directory, "t", "k", cache._seal("t", "k", PLANTED), mode=0o644)
    os.chmod(directory, mode)
    monkeypatch.setenv("SYMBOLIC_CACHE_DIR", str(directory))
    build, calls = counting(GOOD)
    assert cache.load_or_build("t", "k", build) == GOOD
    assert cache.load_or_build("t", "k", build) == GOOD
    assert calls == [1, 1]  # nothing read from it ...
    assert json.loads(planted.read_text())["entry"] == PLANTED  # ... nor written to it
    assert [p.name for p in directory.iterdir()] == [planted.name]


@pytest.mark.skipif(not IS_ROOT, reason="giving a directory to another user needs root")
def test_directory_owned_by_someone_else_is_not_used(tmp_path, monkeypatch):
    directory = tmp_path / "theirs"
    plant(directory, "t", "k", cache._seal("t", "k", PLANTED))
    os.chmod(directory, 0o755)
    os.chown(directory, OTHER_UID, OTHER_UID)
    monkeypatch.setenv("SYMBOLIC_CACHE_DIR", str(directory))
    build, calls = counting(GOOD)
    assert cache.load_or_build("t", "k", build) == GOOD and calls == [1]


def test_relative_xdg_cache_home_means_no_cache(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SYMBOLIC_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert cache.cache_dir() is None
    build, calls = counting(GOOD)
    assert cache.load_or_build("t", "k", build) == GOOD
    assert cache.load_or_build("t", "k", build) == GOOD
    assert calls == [1, 1]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("home", ["", "relative-home"])
def test_empty_or_relative_home_means_no_cache(tmp_path, monkeypatch, home):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SYMBOLIC_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", home)
    assert cache.cache_dir() is None
    build, calls = counting(GOOD)
    cache.load_or_build("t", "k", build)
    cache.load_or_build("t", "k", build)
    assert calls == [1, 1]
    assert list(tmp_path.iterdir()) == []


def test_default_locations_and_off(tmp_path, monkeypatch):
    monkeypatch.delenv("SYMBOLIC_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert cache.cache_dir() == tmp_path / ".cache" / "symbolic"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "symbolic"
    monkeypatch.setenv("SYMBOLIC_CACHE_DIR", "off")
    assert cache.cache_dir() is None
    build, calls = counting(GOOD)
    cache.load_or_build("t", "k", build)
    cache.load_or_build("t", "k", build)
    assert calls == [1, 1]


# --- which entries are read ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", [0o666, 0o620, 0o602, 0o660], ids=oct)
def test_entry_writable_by_others_is_refused_and_replaced(cache_in, mode):
    path = plant(cache_in, "t", "k", cache._seal("t", "k", PLANTED), mode=mode)
    os.chmod(cache_in, 0o700)
    build, calls = counting(GOOD)
    assert cache.load_or_build("t", "k", build) == GOOD and calls == [1]
    assert_good_entry(path, "t", "k", GOOD)


@pytest.mark.skipif(not IS_ROOT, reason="giving a file to another user needs root")
def test_entry_owned_by_someone_else_is_refused_and_replaced(cache_in):
    path = plant(cache_in, "t", "k", cache._seal("t", "k", PLANTED), mode=0o644)
    os.chmod(cache_in, 0o700)
    os.chown(path, OTHER_UID, OTHER_UID)
    build, calls = counting(GOOD)
    assert cache.load_or_build("t", "k", build) == GOOD and calls == [1]
    assert_good_entry(path, "t", "k", GOOD)


def test_symlinked_entry_and_fifo_are_refused(cache_in, tmp_path):
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps(cache._seal("t", "k", PLANTED)))
    os.chmod(target, 0o600)
    cache_in.mkdir(mode=0o700)
    (cache_in / cache._file_name("t", "k")).symlink_to(target)
    build, calls = counting(GOOD)
    assert cache.load_or_build("t", "k", build) == GOOD and calls == [1]
    assert json.loads(target.read_text())["entry"] == PLANTED  # the link was replaced, not written through
    assert_good_entry(cache_in / cache._file_name("t", "k"), "t", "k", GOOD)
    if hasattr(os, "mkfifo"):
        os.mkfifo(cache_in / cache._file_name("t", "fifo"), 0o600)
        assert cache.load_or_build("t", "fifo", build) == GOOD  # no hang reading a pipe


def test_entry_for_another_question_or_build_is_refused(cache_in):
    cache_in.mkdir(mode=0o700)
    name = cache._file_name("t", "k")
    sealed = cache._seal("t", "k", PLANTED)
    for field, value in [("key", "other"), ("namespace", "other"), ("version", "0.0.0"), ("digest", "0" * 20),
                         ("format", 1), ("sha256", "0" * 64)]:
        (cache_in / name).write_text(json.dumps(dict(sealed, **{field: value})))
        os.chmod(cache_in / name, 0o600)
        build, calls = counting(GOOD)
        assert cache.load_or_build("t", "k", build) == GOOD and calls == [1], field
        assert_good_entry(cache_in / name, "t", "k", GOOD)
    # the entry of another key copied under this key's name
    (cache_in / name).write_text(json.dumps(cache._seal("t", "other", PLANTED)))
    build, calls = counting(GOOD)
    assert cache.load_or_build("t", "k", build) == GOOD and calls == [1]


WRONG_SHAPES = {
    "list": [],
    "null": None,
    "string": "x",
    "args not a list": {"args": 1, "outputs": {}},
    "args not strings": {"args": [1], "outputs": {}},
    "outputs a list": {"args": ["H"], "outputs": ["lambda _H: 7"]},
    "output not a string": {"args": ["H"], "outputs": {"x": 7}},
    "output not the grammar": {"args": ["H"], "outputs": {"x": "lambda _H: _H.real"}},
    "output takes other parameters": {"args": ["H"], "outputs": {"x": "lambda _W: 7"}},
    "entry a list": [1, 2],
}


@pytest.mark.parametrize("shape", WRONG_SHAPES)
def test_valid_json_of_the_wrong_shape_is_rebuilt(cache_in, shape):
    wrong = WRONG_SHAPES[shape]
    cache_in.mkdir(mode=0o700)
    for stored in (wrong, cache._seal("t", "k", wrong)):  # bare, and sealed (seal and hash right, content wrong)
        path = plant(cache_in, "t", "k", stored)
        build, calls = counting(GOOD)
        assert cache.load_or_build("t", "k", build) == GOOD and calls == [1]
        assert_good_entry(path, "t", "k", GOOD)


@pytest.mark.parametrize("content", ["", "{", "{\"format\": 2,", "\xff\xfe", "[" * 100_000, "nan", "1e999999"])
def test_damaged_entry_is_rebuilt(cache_in, content):
    cache_in.mkdir(mode=0o700)
    path = plant(cache_in, "t", "k", content)
    build, calls = counting(GOOD)
    assert cache.load_or_build("t", "k", build) == GOOD and calls == [1]
    assert_good_entry(path, "t", "k", GOOD)


def test_a_build_that_raises_propagates(cache_in):
    class Miss(Exception):
        pass

    def build():
        raise Miss

    with pytest.raises(Miss):  # report.jobs.cached_jobs relies on this to probe for a hit
        cache.load_or_build("t", "k", build)


# --- the real callers, with a planted entry ------------------------------------------------------------------------

#: The SD 1.5 entries live in ``symbolic.pipelines.api``'s namespace, keyed by the configuration's repr.
NAMESPACE = "pipeline"


def sd15_config():
    return pipeline_estimate.make_config("sd15", task="img2img")


def sd15_evaluate():
    """An img2img 512 x 768, two images, guidance 7.5, fp16 call through the cache."""
    config = sd15_config()
    return pipeline_estimate.evaluate(config, pipeline_estimate.values_of(config, None, 512, 768, 2, 7.5, 1))


@pytest.fixture(scope="module")
def sd15_reference(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYMBOLIC_CACHE_DIR", "off")
        pipeline_estimate.cached_entry.cache_clear()
        result = sd15_evaluate()
        entry = pipeline_estimate._build_entry(sd15_config())
        pipeline_estimate.cached_entry.cache_clear()
    return result, entry


def sd15_planted(directory: Path, marker: Path, seal: bool, entry: dict, mode: int = 0o600) -> Path:
    """A complete entry of the right shape (every key its caller reads) whose every output runs ``marker.touch()``."""
    key = repr(sd15_config())
    entry = dict(entry, outputs={name: malicious(marker) for name in entry["outputs"]})
    return plant(directory, NAMESPACE, key, cache._seal(NAMESPACE, key, entry) if seal else entry, mode)


@pytest.mark.parametrize("case", ["sealed, private dir", "bare, private dir", "sealed, world-writable entry",
                                  "sealed, world-writable dir"])
def test_planted_entry_never_runs_and_the_answer_is_right(cache_in, tmp_path, sd15_reference, case):
    reference, entry = sd15_reference
    marker = tmp_path / "pwned"
    path = sd15_planted(cache_in, marker, seal=case.startswith("sealed"), entry=entry,
                        mode=0o666 if "entry" in case else 0o600)
    os.chmod(cache_in, 0o777 if "dir" in case and "world" in case else 0o700)
    assert sd15_evaluate() == reference
    assert not marker.exists()
    if "world-writable dir" not in case:
        pipeline_estimate.cached_entry.cache_clear()  # the rebuilt entry replaced the planted one, and is a hit next time
        assert_good_entry(path, NAMESPACE, repr(sd15_config()), json.loads(path.read_text())["entry"])
        assert sd15_evaluate() == reference
    assert not marker.exists()


def test_sd15_entry_of_the_wrong_shape_is_rebuilt(cache_in, sd15_reference):
    cache_in.mkdir(mode=0o700)
    key = repr(sd15_config())
    reference, entry = sd15_reference
    path = plant(cache_in, NAMESPACE, key, cache._seal(NAMESPACE, key, {k: v for k, v in entry.items()
                                                                       if k != "outputs"}))  # no outputs
    assert sd15_evaluate() == reference
    assert "outputs" in json.loads(path.read_text())["entry"]


# --- the whitelist grammar -----------------------------------------------------------------------------------------

REFUSED = {
    "attribute": "lambda _H: _H.real",
    "attribute of a function": "lambda _H: max.__self__",
    "dunder chain": "lambda _H: _F.__init__.__globals__",
    "subscript": "lambda _H: _H[0]",
    "unknown name": "lambda _H: abs(_H)",
    "builtin import": "lambda _H: __import__('os')",
    "bare function name": "lambda _H: max",
    "string": "lambda _H: 'x'",
    "float": "lambda _H: 1.5",
    "keyword argument": "lambda _H: _F(1, denominator=2)",
    "starred argument": "lambda _H: max(*_H)",
    "call of a parameter": "lambda _H: _H(1)",
    "call of a call": "lambda _H: _F(1)(2)",
    "nested lambda": "lambda _H: (lambda _W: _W)(_H)",
    "comprehension": "lambda _H: [x for x in _H]",
    "generator": "lambda _H: max(x for x in _H)",
    "walrus": "lambda _H: (_W := 1)",
    "tuple": "lambda _H: (_H, _H)",
    "not a lambda": "1 + 1",
    "runs at eval": "(lambda _H: 0) if __import__('os') else 0",
    "default": "lambda _H=__import__('os'): 0",
    "varargs": "lambda *_H: 0",
    "kwargs": "lambda _H, **_W: 0",
    "keyword-only": "lambda _H, *, _W: 0",
    "parameter not _name": "lambda H: H",
    "dunder parameter": "lambda __H: __H",
    "parameter shadows a function": "lambda _F: _F",
    "power to a name": "lambda _H: _H ** _H",
    "power to an expression": "lambda _H: 9 ** (9 ** 9)",
    "bit shift": "lambda _H: _H << 1",
    "is": "lambda _H: _H is None",
    "in": "lambda _H: _H in _H",
    "statement": "import os",
    "syntax error": "lambda _H: (",
    "not a string": 7,
    "deep nesting": "lambda _H: " + "(" * 10_000 + "_H" + ")" * 10_000,
}


@pytest.mark.parametrize("name", REFUSED)
def test_whitelist_refuses(name):
    with pytest.raises(ValueError):
        compile_exact(REFUSED[name])


def test_whitelist_refusal_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    for source in (malicious(marker), f"lambda _H: __import__('pathlib').Path({str(marker)!r}).touch()"):
        with pytest.raises(ValueError):
            compile_exact(source)
    assert not marker.exists()


def test_no_builtins_at_run_time():
    function = compile_exact("lambda _H: max(_H, 2)")
    assert function.__globals__["__builtins__"] == {}
    assert function(5) == 5


EXPRESSIONS = [
    sp.Max(H, W) * sp.Rational(3, 7), sp.Min(H, 2 * W), sp.floor(H / 3) + sp.ceiling(W / 5), sp.Rational(1, 2) * H,
    1 / H**2, H**3 - W, sp.Mod(H, 3), -H + sp.Max(H, W, 4),
    sp.Piecewise((H, H > W), (W, True)),
    sp.Piecewise((H, sp.Or(H > W, sp.Eq(H, 3))), (W, True)),
    sp.Piecewise((H, sp.And(H >= 3, sp.Not(sp.Eq(W, 2)))), (2 * W, H < 2), (W, True)),
    sp.Integer(10) ** 40 * H,
    # integer quotients print as Python's exact // (negative numerators included)
    sp.floor((H - 3 * W) / 4), sp.ceiling((H - 3 * W) / 4), sp.ceiling(sp.floor(H / 2) / 3) * W,
]


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=str)
def test_whitelist_accepts_generated_code(expr):
    source = exact_source(expr)
    assert exact_parameters(source) == tuple(f"_{n}" for n in ARG_NAMES)
    args = {name: 1 for name in ARG_NAMES} | {"H": 7, "W": 5}
    function = compile_exact(source)
    value = function(*(args[name] for name in ARG_NAMES))
    assert value == expr.subs({H: 7, W: 5}).subs({s: 1 for s in expr.free_symbols})


def test_integer_quotients_print_as_floor_division():
    """floor / ceiling of an integer over a constant need no Fraction (the one-point path's speed); others keep one."""
    assert "//" in exact_source(sp.floor(H / 8)) and "_F" not in exact_source(sp.floor(H / 8))
    assert "//" in exact_source(sp.ceiling(H * W / 3))
    assert "_floor" in exact_source(sp.floor(H / W))  # no constant denominator: a Fraction, then its floor


def test_whitelist_accepts_every_output_of_real_models(cache_in):
    entry, functions = pipeline_estimate.cached_entry(pipeline_estimate.make_config("flux.1-dev"))
    _, sd15_functions = pipeline_estimate.cached_entry(sd15_config())
    assert functions and sd15_functions
    # and what was cached for them passes on load (a hit, not a rebuild)
    sd15_entry = cache.load_or_build(NAMESPACE, repr(sd15_config()), lambda: pytest.fail("sd15 entry not cached"))
    flux_entry = cache.load_or_build("pipeline", repr(pipeline_estimate.make_config("flux.1-dev")),
                                     lambda: pytest.fail("flux entry not cached"))
    assert flux_entry == entry
    for cached in (sd15_entry, flux_entry):
        for source in cached["outputs"].values():
            assert exact_parameters(source) == tuple(f"_{a}" for a in cached["args"])
    runtime._checked.cache_clear()
    for source in list(sd15_entry["outputs"].values()) + list(flux_entry["outputs"].values()):
        compile_exact(source)


def test_pipeline_and_report_entries_missing_what_their_callers_read_are_rebuilt(cache_in):
    cache_in.mkdir(mode=0o700)
    config = pipeline_estimate.make_config("flux.1-dev")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYMBOLIC_CACHE_DIR", "off")
        reference = pipeline_estimate.evaluate(config, {"H": 1024, "W": 1024})
    pipeline_estimate.cached_entry.cache_clear()
    path = plant(cache_in, "pipeline", repr(config),
                 cache._seal("pipeline", repr(config), {"args": list(ARG_NAMES), "outputs": {}}))
    assert pipeline_estimate.evaluate(config, {"H": 1024, "W": 1024}) == reference
    assert set(json.loads(path.read_text())["entry"]) >= {"stages", "roles", "latent_rank"}
    path = plant(cache_in, "report-x", "k", cache._seal("report-x", "k", {}))
    assert cache.load_or_build("report-x", "k", lambda: {"value": 3}, ("value",)) == {"value": 3}
    assert_good_entry(path, "report-x", "k", {"value": 3})
