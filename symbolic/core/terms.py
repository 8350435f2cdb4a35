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


class BoundStage(str, Enum):
    """Stages a model resolves when it binds a term (``Binding.stage``)."""

    #: The stage of the component the term is about (a text encoder's own stage; ``resident`` for its weights).
    OWN = "own"
    #: The denoiser's stage (``unet_step`` or ``transformer_step``).
    DENOISER = "denoiser"


class Per(str, Enum):
    """What a term is repeated over when it is bound."""

    #: Each loaded component (``Binding.roles(Per.ROLE)``); the builder takes ``(config, role)``.
    ROLE = "role"
    #: Each text encoder that runs on the device (``Binding.roles(Per.TEXT)``); the builder takes ``(config, role)``.
    TEXT = "text"
    #: The builder returns ``{moment: expression}``: one term per moment of its stage.
    MOMENT = "moment"


@dataclass(frozen=True)
class TermSpec:
    """A registered term before it is bound to a configuration."""

    name: str
    category: Category
    #: A ``Stage``, or a ``BoundStage`` that the model resolves when it binds the term.
    stage: Stage | BoundStage
    source: str
    builder: Callable[..., sp.Expr]
    #: The moments of its stage at which the term is live (a stage's peak is the Max over its moments of the sum of
    #: the terms live then). Resident terms are live at every moment.
    moments: tuple[str, ...] = ("peak",)
    #: What the term is repeated over when it is bound; None: one term.
    per: Per | None = None

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

    def register(self, name: str, *, category: Category, stage: Stage | BoundStage | str, source: str,
                 moments: tuple[str, ...] | str = ("peak",), per: Per | None = None):
        """Decorator: register ``builder(config) -> sympy.Expr`` as the term ``name``."""
        moments = (moments,) if isinstance(moments, str) else tuple(moments)
        stage = stage if isinstance(stage, (Stage, BoundStage)) else Stage(stage)
        per = None if per is None else Per(per)

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

    def bind(self, config, binding: "Binding | None" = None) -> list[Term]:
        """Every term bound to one configuration: the one binder. A term is repeated over what its ``per`` says
        (``binding.roles``), its stage resolved (``binding.stage``: a ``BoundStage`` to the configuration's stage,
        None drops the term); a builder's dict result is one term per moment, its note from
        ``binding.moment_notes``. Terms that come out 0 drop. A term bound with moments ``("*",)`` (a plain
        expression where its stage has moments) is live at every moment of its stage. Without a ``binding``, only
        plain terms (no ``per``, a ``Stage``) bind."""
        binding = binding or Binding()
        terms: list[Term] = []
        for spec in self._specs.values():
            if spec.per in (Per.ROLE, Per.TEXT):
                calls = [(f"{spec.name}.{role}", role, spec.builder(config, role)) for role in binding.roles(spec.per)]
            else:
                calls = [(spec.name, None, spec.builder(config))]
            for name, role, value in calls:
                stage = binding.stage(spec.stage, role)
                if stage is None:
                    continue
                if isinstance(value, dict):
                    notes = binding.moment_notes(spec, role) if value else {}
                    for moment, expr in value.items():
                        if sp.sympify(expr) != 0:
                            terms.append(Term(f"{name}.{moment}", spec.category, stage, sp.sympify(expr),
                                              notes.get(moment, spec.note), spec.source, (moment,)))
                elif sp.sympify(value) != 0:
                    moments = spec.moments if binding.spreads is False else ("*",)
                    terms.append(Term(name, spec.category, stage, sp.sympify(value), spec.note, spec.source, moments))
        return _spread_stage_wide(terms) if binding.spreads else terms


class Binding:
    """What a model tells the binder about one configuration. This base binds plain terms only (the registry's own
    tests); a pipeline model subclasses it (``symbolic.pipelines.model``)."""

    #: Whether a plain term is live at every moment of its stage (True: a pipeline's stages have moments).
    spreads = False

    def roles(self, per: Per) -> tuple[str, ...]:
        raise ValueError(f"a term repeated per {per.value} needs a model's binding")

    def stage(self, stage: Stage | BoundStage, role: str | None) -> Stage | str | None:
        if isinstance(stage, BoundStage):
            raise ValueError(f"stage {stage.value!r} needs a model's binding")
        return stage

    def moment_notes(self, spec: TermSpec, role: str | None) -> dict[str, str]:
        return {}


def _spread_stage_wide(terms: list[Term]) -> list[Term]:
    """A term bound with moments ``("*",)`` is live at every moment of its stage."""
    by_stage: dict[str, list[str]] = {}
    for t in terms:
        if t.moments != ("*",):
            by_stage.setdefault(t.stage, [])
            by_stage[t.stage] += [m for m in t.moments if m not in by_stage[t.stage]]
    out = []
    for t in terms:
        if t.moments == ("*",):
            t = Term(t.name, t.category, t.stage, t.expr, t.note, t.source,
                     tuple(by_stage.get(t.stage) or ("peak",)))
        out.append(t)
    return out


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
