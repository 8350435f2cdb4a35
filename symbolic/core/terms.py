"""Memory terms and the registry that holds them.

A ``Term`` is one named SymPy expression in bytes, with the category of memory it is (weights, activations, ...),
the pipeline stage it is live in, and a one-paragraph derivation note naming the code it comes from. Terms are
declared by decorating one function per term (the style of PyTorch's ``flop_counter.py``); the function receives the
pipeline configuration and returns the expression, and its docstring is the derivation note. A registry refuses a
second term of the same name.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from functools import cached_property

import sympy as sp

from symbolic.core.algebra import maximum


class Category(str, Enum):
    """What kind of memory a term is (PyTorch ``mem_tracker``'s categories, plus the framework's own)."""

    WEIGHTS = "weights"
    ACTIVATIONS = "activations"
    ATTENTION = "attention"
    WORKSPACE = "workspace"
    ALLOCATOR = "allocator"
    CONTEXT = "context"


class Stage(str, Enum):
    """Where in the pipeline a term is live. ``RESIDENT`` terms are live throughout (weights, workspaces)."""

    RESIDENT = "resident"
    TEXT_ENCODER = "text_encoder"
    TEXT_ENCODER_2 = "text_encoder_2"
    TEXT_ENCODER_3 = "text_encoder_3"
    VAE_ENCODE = "vae_encode"
    UNET_STEP = "unet_step"
    TRANSFORMER_STEP = "transformer_step"
    VAE_DECODE = "vae_decode"
    SAFETY_CHECKER = "safety_checker"


#: Stages a pipeline model resolves when it binds a term: ``own`` (the stage of the component the term is about) and
#: ``denoiser`` (the spec's denoiser stage, ``unet_step`` or ``transformer_step``).
BOUND_STAGES = ("own", "denoiser")


@dataclass(frozen=True)
class TermSpec:
    """A registered term before it is bound to a configuration."""

    name: str
    category: Category
    #: A ``Stage``, or one of ``BOUND_STAGES`` that a pipeline model resolves when it binds the term.
    stage: Stage | str
    source: str
    builder: Callable[..., sp.Expr]
    #: The moments of its stage at which the term is live (a stage's peak is the Max over its moments of the sum of
    #: the terms live then). Resident terms are live at every moment.
    moments: tuple[str, ...] = ("peak",)
    #: What the term is repeated over when a pipeline model binds it (``"role"``: each loaded component; ``"text"``:
    #: each text encoder; ``"moment"``: the builder returns {moment: expression}); None: one term.
    per: str | None = None

    @property
    def note(self) -> str:
        return inspect.cleandoc(self.builder.__doc__ or "")


@dataclass(frozen=True)
class Term:
    """A term bound to a configuration: its expression in bytes."""

    name: str
    category: Category
    stage: Stage | str
    expr: sp.Expr
    note: str
    source: str
    moments: tuple[str, ...] = ("peak",)


class TermRegistry:
    """An ordered set of term specifications; a duplicate name is an error."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._specs: dict[str, TermSpec] = {}

    def register(self, name: str, *, category: Category, stage: Stage | str, source: str,
                 moments: tuple[str, ...] | str = ("peak",), per: str | None = None):
        """Decorator: register ``builder(config) -> sympy.Expr`` as the term ``name``."""
        moments = (moments,) if isinstance(moments, str) else tuple(moments)
        stage = stage if stage in BOUND_STAGES else Stage(stage)

        def decorate(builder: Callable[..., sp.Expr]) -> Callable[..., sp.Expr]:
            if name in self._specs:
                raise ValueError(f"{self.name}: term {name!r} registered twice")
            if not (builder.__doc__ or "").strip():
                raise ValueError(f"{self.name}: term {name!r} has no derivation note (docstring)")
            self._specs[name] = TermSpec(name, Category(category), stage, source, builder, moments, per)
            return builder

        return decorate

    def __iter__(self) -> Iterator[TermSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def __getitem__(self, name: str) -> TermSpec:
        return self._specs[name]

    def bind(self, config) -> list[Term]:
        """Every term's expression for one configuration (terms that do not apply come out as 0 and are dropped)."""
        terms = []
        for spec in self._specs.values():
            expr = sp.sympify(spec.builder(config))
            if expr != 0:
                terms.append(Term(spec.name, spec.category, spec.stage, expr, spec.note, spec.source, spec.moments))
        return terms


class StagedModel:
    """peak = resident + Max over stages (Max over the stage's moments of the terms live then): the arithmetic that
    every pipeline model shares (PyTorch ``mem_tracker``'s shape). A subclass provides ``terms`` and ``stages``."""

    terms: list[Term]
    stages: tuple[Stage | str, ...]

    def terms_of(self, stage: Stage) -> list[Term]:
        return [t for t in self.terms if t.stage == stage]

    @cached_property
    def resident(self) -> sp.Expr:
        """Terms live in every stage (weights, their allocator rounding, persistent workspaces)."""
        return sp.Add(*(t.expr for t in self.terms_of(Stage.RESIDENT)))

    def moments(self, stage: Stage) -> dict[str, sp.Expr]:
        """Moment name -> sum of the stage's terms live at it. A moment exists where some term is specific to it
        (a term live at every moment of the stage only adds to each of them)."""
        terms = self.terms_of(stage)
        names = list(dict.fromkeys(m for t in terms for m in t.moments))
        if not names:  # the stage allocates nothing on this device (e.g. a text encoder run on the CPU)
            return {"idle": sp.Integer(0)}
        every = set(names)
        specific = [m for m in names if any(m in t.moments and set(t.moments) != every for t in terms)] or names
        return {m: sp.Add(*(t.expr for t in terms if m in t.moments)) for m in specific}

    @cached_property
    def transients(self) -> dict[Stage, sp.Expr]:
        """Each stage's peak minus the resident bytes."""
        return {stage: maximum(*self.moments(stage).values()) for stage in self.stages}

    @cached_property
    def stage_peaks(self) -> dict[Stage, sp.Expr]:
        """Each stage's peak allocated bytes, resident included."""
        return {stage: self.resident + transient for stage, transient in self.transients.items()}

    @cached_property
    def peak_allocated(self) -> sp.Expr:
        return self.resident + maximum(*self.transients.values())
