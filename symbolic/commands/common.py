"""Argument helpers shared by the commands (integer parsing with one-line errors, JSON output)."""
from __future__ import annotations

import argparse
import json
import sys


def integer(text: str) -> int:
    """argparse type for integers: plain ASCII integers only (refuses 4.5, 5_12, non-ASCII digits, abc; the shared
    ``parse_int`` grammar), and leaves the >= 1 rule to the API's message."""
    from symbolic.validation import parse_int

    try:
        return parse_int(text, "value")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("value: ")) from None


def number(text: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")


def print_json_line(obj) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
