"""Argument checks shared by the API and the CLI: one rule, one message naming the argument.

Per-point rules that depend on a configuration (a size at least one latent pixel, a multiple of the pipeline's
step) are data (``PointRule``), written once and evaluated three ways: one point in Python (``check_point``, the
API), many points over arrays (``failing_points``, ``validate``'s column path) and in the planner page's JavaScript
(``javascript_checks``, generated from the same table).
"""
from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum


#: Largest count (size, batch, frames, tokens, devices) the CLI takes, and the APIs that compute in floats should
#: take: 2**53, the range in which a float holds every integer. Far beyond any real pipeline call, and products of a
#: few such counts stay well inside a float (a 400-digit size overflowed to a traceback). Not the default of
#: ``positive_int``: the video-latent API is exact at any size.
MAX_COUNT = 2**53


def positive_int(value: object, argument: str, maximum: int | None = None) -> int:
    """Return ``value`` as an int if it is an integer >= 1 (bools are not integers) and at most ``maximum`` (if
    given, e.g. ``MAX_COUNT``), else raise a ValueError naming ``argument``."""
    if type(value) is int and value >= 1 and (maximum is None or value <= maximum):
        return value  # the common case, without the ABC checks below (validate checks every row)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{argument}: must be an integer >= 1, got {shown(value)} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{argument}: must be an integer >= 1, got {shown(value)}")
    if maximum is not None and value > maximum:
        shown_max = "2**53 (9007199254740992)" if maximum == MAX_COUNT else str(maximum)
        raise ValueError(f"{argument}: must be at most {shown_max}, got {shown(value)}")
    return int(value)


def positive_number(value: object, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{argument}: must be a number > 0, got {value!r}")
    if not value > 0 or value == math.inf:
        raise ValueError(f"{argument}: must be a finite number > 0, got {value!r}")
    return float(value)


def choice(value: object, argument: str, options: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{argument}: must be one of {', '.join(options)}, got {value!r}")
    return value


def guidance_copies(guidance_scale: object) -> int:
    """diffusers' ``do_classifier_free_guidance`` is ``guidance_scale > 1``: the denoiser then runs on a doubled
    batch (or twice), so the guidance multiplier G is 2, else 1."""
    if isinstance(guidance_scale, bool) or not isinstance(guidance_scale, numbers.Real) or guidance_scale != guidance_scale:
        raise ValueError(f"guidance_scale: must be a number, got {guidance_scale!r}")
    if guidance_scale in (math.inf, -math.inf):
        raise ValueError(f"guidance_scale: must be a finite number, got {guidance_scale!r}")
    if guidance_scale < 0:
        raise ValueError(f"guidance_scale: must be >= 0, got {guidance_scale!r}")
    return 2 if guidance_scale > 1 else 1


# --- text: one grammar for the numbers the CLI and the CSV take --------------------------------------------------

#: Characters trimmed around a number: ASCII blanks only (no-break and other Unicode spaces are refused).
_BLANKS = " \t\r\n"
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
#: Longest number text read: far beyond any real size, short of Python's int-conversion limit (4300 digits).
MAX_DIGITS = 1000


def parse_int(text: object, argument: str) -> int:
    """A plain ASCII integer (optional sign, digits 0-9, blanks around allowed): ``"512"``, ``"-1"``.

    Refused with a ValueError naming ``argument``: ``"512.0"``, ``"512.5"``, ``"5_12"``, ``"1e3"``, non-ASCII digits
    (``"٥١٢"``), empty text, and anything not a ``str`` (ints pass through; bools do not)."""
    if isinstance(text, numbers.Integral) and not isinstance(text, bool):
        return int(text)
    if not isinstance(text, str):
        raise ValueError(f"{argument}: must be an integer, got {text!r} ({type(text).__name__})")
    stripped = text.strip(_BLANKS)
    if len(stripped) > MAX_DIGITS or not _INTEGER.fullmatch(stripped):
        raise ValueError(f"{argument}: must be a plain integer (ASCII digits 0-9, no '.', '_' or exponent), "
                         f"got {shown(text)}")
    return int(stripped, 10)


def parse_number(text: object, argument: str) -> float:
    """A finite decimal number in ASCII (``"7.5"``, ``"-2"``, ``"1e1"``); ``inf``, ``nan``, ``"1_0"``, non-ASCII
    digits and empty text are refused with a ValueError naming ``argument``. Real numbers (not bools) pass through
    if finite."""
    if isinstance(text, numbers.Real) and not isinstance(text, bool):
        value = float(text)
    elif isinstance(text, str):
        stripped = text.strip(_BLANKS)
        if len(stripped) > MAX_DIGITS or not _DECIMAL.fullmatch(stripped):
            raise ValueError(f"{argument}: must be a finite decimal number, got {shown(text)}")
        value = float(stripped)
    else:
        raise ValueError(f"{argument}: must be a number, got {text!r} ({type(text).__name__})")
    if not math.isfinite(value):
        raise ValueError(f"{argument}: must be a finite number, got {shown(text)}")
    return value


def shown(text: object, limit: int = 60) -> str:
    """``repr`` of a value, shortened for an error message that must stay one readable line."""
    if isinstance(text, int) and not isinstance(text, bool) and text.bit_length() > 3000:
        return f"an integer of about {int(text.bit_length() * 0.30103)} digits"  # repr() refuses past 4300 digits
    printed = repr(text)
    return printed if len(printed) <= limit else f"{printed[:limit - 15]}... ({len(str(text))} characters)"


def renamed(call, flags: dict):
    """``call()``, with a ValueError's leading argument name (``"batch: ..."``) replaced by the name the caller
    used (``flags`` maps argument names to CLI flags or to a wrapper's argument names), so a message names what the
    user typed."""
    try:
        return call()
    except ValueError as exc:
        argument, sep, rest = str(exc).partition(": ")
        if sep and argument in flags:
            raise ValueError(f"{flags[argument]}: {rest}") from None
        raise


# --- per-point rules as data ----------------------------------------------------------------------------------------

class RuleKind(str, Enum):
    """What a ``PointRule`` asks of a value, against a bound from the configuration's facts."""

    #: value >= bound
    AT_LEAST = "at_least"
    #: value % bound == 0
    MULTIPLE_OF = "multiple_of"


@dataclass(frozen=True)
class PointRule:
    """One rule on one argument of a point (an integer already known to be >= 1): ``kind`` against the fact named
    ``bound``; ``message`` a ``str.format`` template over ``argument``, ``value`` and the facts' names."""

    argument: str
    kind: RuleKind
    bound: str
    message: str

    def holds(self, value, facts: Mapping):
        """True where the rule holds (works on ints and on NumPy arrays alike)."""
        bound = facts[self.bound]
        return value >= bound if self.kind is RuleKind.AT_LEAST else value % bound == 0

    def refusal(self, value, facts: Mapping) -> ValueError:
        return ValueError(self.message.format(argument=self.argument, value=value, **facts))


def check_point(rules: Sequence[PointRule], facts: Mapping, values: Mapping) -> None:
    """Raise the first failing rule's ``ValueError`` (rules in table order)."""
    for rule in rules:
        if not rule.holds(values[rule.argument], facts):
            raise rule.refusal(values[rule.argument], facts)


def failing_points(rules: Sequence[PointRule], facts: Mapping, columns: Mapping):
    """A boolean array: the points (``columns[argument]``, arrays of one length) some rule refuses."""
    failing = None
    for rule in rules:
        bad = ~rule.holds(columns[rule.argument], facts)
        failing = bad if failing is None else failing | bad
    return failing


_TEMPLATE_FIELD = re.compile(r"\{([a-z_]+)\}")


def javascript_checks(rules: Sequence[PointRule]) -> str:
    """The rules as one JavaScript function ``checkPoint(facts, values, refuse)`` over BigInt values: the same
    conditions, in the same order, with the same messages (``facts`` and ``values`` keyed as in Python)."""
    lines = ["function checkPoint(facts,values,refuse){"]
    for rule in rules:
        value = f"values[{json.dumps(rule.argument)}]"
        bound = f"BigInt(facts[{json.dumps(rule.bound)}])"
        holds = f"{value}>={bound}" if rule.kind is RuleKind.AT_LEAST else f"{value}%{bound}===0n"

        def field(match):
            name = match.group(1)
            if name == "argument":
                return rule.argument
            if name == "value":
                return "${" + value + "}"
            return "${facts[" + json.dumps(name) + "]}"

        text = rule.message.replace("\\", "\\\\").replace("`", "\\`").replace("$", "\\$")
        lines.append(f"  if(!({holds}))refuse(`{_TEMPLATE_FIELD.sub(field, text)}`);")
    lines.append("}")
    return "\n".join(lines)
