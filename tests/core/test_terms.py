"""symbolic.core.terms: the registry's rules, and the pipeline registry's contents as SD 1.5 binds them."""
from __future__ import annotations

import itertools

import pytest
import sympy as sp

from symbolic.pipelines.model import PIPELINE_TERMS  # registers every pipeline term (SD 1.5's among them)
from symbolic.pipelines.api import pipeline_model
from symbolic.core.symbols import H, W, symbol
from symbolic.core.terms import BoundStage, Category, Stage, Term, TermRegistry

SPEC = {"category": Category.ACTIVATIONS, "stage": Stage.UNET_STEP, "source": "somewhere.py"}


def documented(config):
    """A documented term."""
    return H * W


def test_duplicate_name_raises():
    registry = TermRegistry("t")
    registry.register("x", **SPEC)(documented)
    with pytest.raises(ValueError, match=r"'x'.*twice"):
        registry.register("x", **dict(SPEC, stage=Stage.VAE_DECODE))(documented)
    assert len(registry) == 1


@pytest.mark.parametrize("doc", [None, "", "   \n\t  "], ids=["none", "empty", "blank"])
def test_term_without_docstring_raises(doc):
    def builder(config):
        return H

    builder.__doc__ = doc
    registry = TermRegistry("t")
    with pytest.raises(ValueError, match=r"'nodoc'.*derivation note"):
        registry.register("nodoc", **SPEC)(builder)
    assert len(registry) == 0


@pytest.mark.parametrize("field, value", [("category", "bogus"), ("stage", "bogus")])
def test_unknown_category_or_stage_raises(field, value):
    registry = TermRegistry("t")
    with pytest.raises(ValueError):
        registry.register("y", **dict(SPEC, **{field: value}))(documented)
    assert len(registry) == 0


def test_strings_are_coerced_and_moments_normalised():
    registry = TermRegistry("t")
    registry.register("a", category="weights", stage="resident", source="s", moments="only")(documented)
    spec = registry["a"]
    assert spec.category is Category.WEIGHTS and spec.stage is Stage.RESIDENT
    assert spec.moments == ("only",)
    assert spec.note == "A documented term."


def test_bind_drops_zero_terms_and_keeps_order():
    registry = TermRegistry("t")
    for name, value in [("first", H), ("zero", 0), ("second", 2 * W), ("zero_expr", H - H)]:
        def builder(config, value=value):
            """Doc."""
            return value

        registry.register(name, **SPEC)(builder)
    terms = registry.bind(config=None)
    assert [t.name for t in terms] == ["first", "second"]
    assert all(isinstance(t, Term) and isinstance(t.expr, sp.Basic) for t in terms)
    assert terms[1].expr == 2 * W and terms[1].note == "Doc." and terms[1].source == "somewhere.py"


# --- the pipeline registry, bound for SD 1.5 --------------------------------------------------------------------------

SPECS = list(PIPELINE_TERMS)


def test_pipeline_registry_is_populated_with_unique_names():
    names = [spec.name for spec in SPECS]
    assert len(names) >= 20
    assert len(names) == len(set(names))


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_pipeline_term_is_documented(spec):
    assert all(part.isidentifier() for part in spec.name.split(".")), spec.name
    assert len(spec.note.split()) >= 5, "the derivation note should say where the term comes from"
    assert spec.source.strip()
    assert isinstance(spec.category, Category)
    assert isinstance(spec.stage, (Stage, BoundStage))
    assert spec.moments and all(isinstance(m, str) and m for m in spec.moments)


#: Every discrete setting's values, once each, plus a combination: every term must bind to a SymPy expression in
#: bytes (its symbols among the image-pipeline symbols) without error.
BIND_CONFIGS = [
    dict(zip(("task", "attention", "attention_backend", "memory_options", "dtype", "safety_checker", "long_prompt"),
             combo))
    for combo in [
        ("img2img", "sdpa", "default", (), "fp16", True, False),
        ("txt2img", "classic", "default", ("vae_tiling",), "bf16", False, True),
        ("img2img", "sdpa", "math", ("vae_slicing", "attention_slicing"), "fp32", True, True),
        ("txt2img", "sdpa", "flash", ("vae_slicing", "vae_tiling", "attention_slicing"), "fp16", False, False),
        ("img2img", "sdpa", "efficient", ("attention_slicing",), "bf16", True, False),
    ]
]


def bind_id(kwargs: dict) -> str:
    return "-".join(str("+".join(v) or "none") if isinstance(v, tuple) else str(v) for v in kwargs.values())


@pytest.mark.parametrize("kwargs", BIND_CONFIGS, ids=bind_id)
def test_sd15_bound_terms_are_well_formed(kwargs):
    model = pipeline_model("sd15", **kwargs)
    terms = model.terms
    names = [t.name for t in terms]
    assert len(names) == len(set(names))
    allowed = {symbol(n) for n in ("H", "W", "B", "G", "L", "b")}
    registered = {spec.name for spec in SPECS}
    for term in terms:
        # A term repeated per role, text encoder or moment is named ``<spec>.<what>[.<moment>]``.
        assert any(term.name == name or term.name.startswith(f"{name}.") for name in registered), term.name
        assert term.expr.free_symbols <= allowed, term.name
        assert term.stage in model.stages or term.stage == Stage.RESIDENT, f"{term.name} lives in a stage that does not run"
        assert term.expr.is_nonnegative is not False, term.name


@pytest.mark.parametrize("kwargs", BIND_CONFIGS, ids=bind_id)
def test_sd15_terms_cover_every_stage_that_runs(kwargs):
    model = pipeline_model("sd15", **kwargs)
    for stage in itertools.chain([Stage.RESIDENT], model.stages):
        assert model.terms_of(stage), f"{kwargs}: no term in {stage}"
