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

import sympy as sp


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
    VAE_ENCODE = "vae_encode"
    UNET_STEP = "unet_step"
    TRANSFORMER_STEP = "transformer_step"
    VAE_DECODE = "vae_decode"
    SAFETY_CHECKER = "safety_checker"


@dataclass(frozen=True)
class TermSpec:
    """A registered term before it is bound to a configuration."""

    name: str
    category: Category
    stage: Stage
    source: str
    builder: Callable[..., sp.Expr]
    #: The moments of its stage at which the term is live (a stage's peak is the Max over its moments of the sum of
    #: the terms live then). Resident terms are live at every moment.
    moments: tuple[str, ...] = ("peak",)

    @property
    def note(self) -> str:
        return inspect.cleandoc(self.builder.__doc__ or "")


@dataclass(frozen=True)
class Term:
    """A term bound to a configuration: its expression in bytes."""

    name: str
    category: Category
    stage: Stage
    expr: sp.Expr
    note: str
    source: str
    moments: tuple[str, ...] = ("peak",)


class TermRegistry:
    """An ordered set of term specifications; a duplicate name is an error."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._specs: dict[str, TermSpec] = {}

    def register(self, name: str, *, category: Category, stage: Stage, source: str,
                 moments: tuple[str, ...] | str = ("peak",)):
        """Decorator: register ``builder(config) -> sympy.Expr`` as the term ``name``."""
        moments = (moments,) if isinstance(moments, str) else tuple(moments)

        def decorate(builder: Callable[..., sp.Expr]) -> Callable[..., sp.Expr]:
            if name in self._specs:
                raise ValueError(f"{self.name}: term {name!r} registered twice")
            if not (builder.__doc__ or "").strip():
                raise ValueError(f"{self.name}: term {name!r} has no derivation note (docstring)")
            self._specs[name] = TermSpec(name, Category(category), Stage(stage), source, builder, moments)
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
