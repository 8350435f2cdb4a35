"""Argument helpers shared by the commands (integer parsing with one-line errors, JSON output)."""
from __future__ import annotations

import argparse
import json
import sys

from symbolic.core.checks import renamed  # noqa: F401  (the commands import it from here)


def integer(text: str) -> int:
    """argparse type for integers: plain ASCII integers only (refuses 4.5, 5_12, non-ASCII digits, abc; the shared
    ``parse_int`` grammar) up to ``MAX_COUNT`` (2**53: no count a pipeline call has comes near it, and larger ones
    overflowed floats in the estimates), and leaves the >= 1 rule to the API's message."""
    from symbolic.core.checks import MAX_COUNT, parse_int

    try:
        value = parse_int(text, "value")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("value: ")) from None
    if value > MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be at most 2**53 ({MAX_COUNT}), got {text.strip()[:40]!r}"
                                         f"{'...' if len(text.strip()) > 40 else ''}")
    return value


def number(text: str) -> float:
    """argparse type for decimal numbers: the shared ``parse_number`` grammar (finite ASCII decimals; refuses inf,
    nan, 1_0, non-ASCII digits and empty text)."""
    from symbolic.core.checks import parse_number

    try:
        return parse_number(text, "value")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("value: ")) from None


def print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")


def print_json_line(obj) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
