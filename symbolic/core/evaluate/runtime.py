"""Running generated exact code without SymPy: the namespace and compiler for ``printers.exact_source`` output.

Kept free of SymPy imports so that a cached expression (``symbolic.core.evaluate.cache``) evaluates in a process that never
imports SymPy (the CLI's cold start).

``compile_exact`` runs nothing it has not checked first. A source is parsed with ``ast`` and must be, exactly, the
grammar ``printers.exact_source`` (``_ExactPrinter``) emits::

    lambda _a, _b, ...: EXPR        (plain positional parameters named ``_identifier``, no defaults)
    EXPR := integer | parameter | EXPR (+ - * / // % **) EXPR | -EXPR | +EXPR | not EXPR
          | EXPR (< <= > >= == !=) EXPR ... | EXPR and/or EXPR | (EXPR if EXPR else EXPR)
          | f(EXPR, ...) for f in _F, _floor, _ceil, max, min     (positional arguments only)

with ``**`` only to a non-negative integer literal (the printer writes ``x**-n`` as ``_F(1) / x**n``). No attribute,
subscript, string, other name, keyword argument, comprehension or nested lambda: anything else is a ``ValueError``.
The checked code then runs with no builtins at all, only ``EXACT_NAMESPACE``.
"""
from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping, Sequence
from fractions import Fraction
from functools import lru_cache


def _floor(x):
    return math.floor(x)


def _ceil(x):
    return math.ceil(x)


EXACT_NAMESPACE = {"_F": Fraction, "_floor": _floor, "_ceil": _ceil, "max": max, "min": min}

_FUNCTIONS = frozenset(EXACT_NAMESPACE)
_PARAMETER = re.compile(r"_[A-Za-z0-9_]*\Z")
_BINARY = frozenset({ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow})
_UNARY = frozenset({ast.USub, ast.UAdd, ast.Not})
_COMPARE = frozenset({ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq})
_BOOLEAN = frozenset({ast.And, ast.Or})
_CONSTANT_TYPES = frozenset({int, bool, type(None)})  # None: a Piecewise with no True branch prints ``else None``


#: A budget on the work one generated expression may ask for, so that no cache entry (even one the user wrote) can
#: hang or exhaust the process: the largest power (the models' terms are at most quadratic in a size, the attention
#: scores), the longest integer literal, and the most nodes (the largest model's outputs have well under 10**5).
MAX_EXPONENT = 16
MAX_LITERAL_DIGITS = 60
MAX_NODES = 2_000_000


def _refuse(why: str):
    raise ValueError(f"generated exact code refused: {why}")


def _parameters(tree) -> tuple[str, ...]:
    if type(tree) is not ast.Expression or type(tree.body) is not ast.Lambda:
        _refuse("not a single lambda expression")
    arguments = tree.body.args
    if arguments.posonlyargs or arguments.vararg or arguments.kwonlyargs or arguments.kwarg or arguments.defaults:
        _refuse("the lambda may only take plain positional parameters")
    names = tuple(a.arg for a in arguments.args)
    for name in names:
        if not _PARAMETER.match(name) or name in _FUNCTIONS or name.startswith("__"):
            _refuse(f"parameter name {name!r}")
    if len(set(names)) != len(names):
        _refuse("repeated parameter name")
    return names


def _check_body(body, parameters: frozenset) -> None:
    """Every node of ``body`` in the grammar above (iterative: a deep expression needs no Python recursion)."""
    stack, nodes = [body], 0
    while stack:
        node = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            _refuse(f"more than {MAX_NODES} nodes")
        kind = type(node)
        if kind is ast.BinOp:
            if type(node.op) not in _BINARY:
                _refuse(f"operator {type(node.op).__name__}")
            if type(node.op) is ast.Pow:
                exponent = node.right
                if type(exponent) is not ast.Constant or type(exponent.value) is not int or exponent.value < 0:
                    _refuse("a power to anything but a non-negative integer literal")
                if exponent.value > MAX_EXPONENT:
                    _refuse(f"a power above {MAX_EXPONENT}")
                stack.append(node.left)
            else:
                stack += (node.left, node.right)
        elif kind is ast.Name:
            if node.id not in parameters or type(node.ctx) is not ast.Load:
                _refuse(f"name {node.id!r}")
        elif kind is ast.Constant:
            if type(node.value) not in _CONSTANT_TYPES:
                _refuse(f"constant of type {type(node.value).__name__}")
            if type(node.value) is int and node.value.bit_length() > MAX_LITERAL_DIGITS * 3.33:
                _refuse(f"an integer literal of more than {MAX_LITERAL_DIGITS} digits")
        elif kind is ast.Call:
            if type(node.func) is not ast.Name or node.func.id not in _FUNCTIONS:
                _refuse("a call of anything but " + ", ".join(sorted(_FUNCTIONS)))
            if node.keywords:
                _refuse("keyword arguments")
            stack += node.args  # a *starred argument is an ast.Starred node: refused below
        elif kind is ast.UnaryOp:
            if type(node.op) not in _UNARY:
                _refuse(f"operator {type(node.op).__name__}")
            stack.append(node.operand)
        elif kind is ast.Compare:
            if any(type(op) not in _COMPARE for op in node.ops):
                _refuse("comparison operator")
            stack.append(node.left)
            stack += node.comparators
        elif kind is ast.BoolOp:
            if type(node.op) not in _BOOLEAN:
                _refuse("boolean operator")
            stack += node.values
        elif kind is ast.IfExp:
            stack += (node.test, node.body, node.orelse)
        else:
            _refuse(f"{kind.__name__} is not part of generated exact code")


@lru_cache(maxsize=None)
def _checked(source: str):
    """(code object, parameter names) of a source that passes the grammar; memoised, so that the cache's check on
    load and ``compile_exact`` afterwards parse each source once."""
    if not isinstance(source, str):
        _refuse(f"not a string ({type(source).__name__})")
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        _refuse(f"does not parse ({type(error).__name__})")
    parameters = _parameters(tree)
    _check_body(tree.body.body, frozenset(parameters))
    try:
        code = compile(tree, "<exact>", "eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        _refuse(f"does not compile ({type(error).__name__})")
    return code, parameters


def exact_parameters(source: str) -> tuple[str, ...]:
    """The lambda's parameter names, after checking ``source`` against the grammar (``ValueError`` if it fails)."""
    return _checked(source)[1]


def compile_exact(source: str):
    """Compile a ``lambda`` produced by ``printers.exact_source``: checked against the grammar of the module docstring
    first (``ValueError`` otherwise), then run with ``EXACT_NAMESPACE`` and no builtins."""
    code, _ = _checked(source)
    return eval(code, {"__builtins__": {}, **EXACT_NAMESPACE})  # noqa: S307  (checked above)


def as_integer(value):
    """An exact result as ``int`` when it is integral, else the ``Fraction``."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value)
    return value


def ceil_int(value) -> int:
    """An exact result as an int (a fractional byte count rounds up)."""
    return int(value) if getattr(value, "denominator", 1) == 1 else -(-value.numerator // value.denominator)


def positional(arg_names: Sequence[str], values: Mapping[str, object]) -> list:
    """Arguments in ``arg_names`` order; names the caller does not give are 1 (absent from the expression)."""
    return [values.get(name, 1) for name in arg_names]
