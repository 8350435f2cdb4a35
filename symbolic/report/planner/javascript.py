"""SymPy closed forms printed to JavaScript that evaluates them *exactly*, as the Python API does.

The API evaluates every output over Python ``int`` and ``fractions.Fraction`` (``printers.exact_source``), so floor,
ceiling and Max of rational sums land on the right integer at any size. JavaScript numbers are doubles:
``Math.floor((1/96)*x + 191/192)`` can miss by one, and byte counts may pass 2**53. So the printer here is SymPy's
``JavascriptCodePrinter`` (which prints the structure: Piecewise as nested ternaries, And/Or/Not as ``&& || !``,
booleans, symbols) with the arithmetic nodes printed as calls of a small exact-rational runtime over ``BigInt``
(``RUNTIME``): a value is a pair ``[numerator, denominator]`` of BigInts in lowest terms, denominator > 0.

| SymPy node                   | printed as                | Python exact counterpart (``printers._ExactPrinter``) |
|------------------------------|---------------------------|------------------------------------------------------|
| Integer p, Rational p/q      | ``$q(pn)``, ``$q(pn,qn)`` | ``p``, ``_F(p, q)``                                  |
| Add, Mul                     | ``$A(..)``, ``$M(..)`` | ``+``, ``*``                                         |
| Pow (integer exponent)       | ``$P(x, e)``           | ``**`` / ``_F(1) / x**n``                            |
| floor, ceiling               | ``$F(x)``, ``$C(x)``   | ``math.floor``, ``math.ceil`` of a Fraction          |
| Max, Min                     | ``$X(..)``, ``$N(..)`` | ``max``, ``min``                                     |
| Mod                          | ``$D(a, b)``           | ``%`` (floored, Python's sign rule)                  |
| < <= > >= == !=              | ``$lt(a,b)`` ...       | the same comparisons                                 |

Common subexpressions are shared structurally while printing (a subtree met twice is computed once, into a
``const``): SymPy's ``cse`` and ``tree_cse`` rebuild every node they touch, and re-evaluating the Max of large stage
sums costs seconds per configuration (the same reason as ``printers._NamedExactPrinter``).
"""
from __future__ import annotations

import sympy as sp
from sympy.logic.boolalg import Boolean
from sympy.printing.jscode import JavascriptCodePrinter

from symbolic.core.symbols import ARG_NAMES, ARG_ORDER

#: Symbols print as the API's argument names (``ARG_NAMES``), which are JavaScript identifiers; their LaTeX-style
#: SymPy names (``C_{lat}``) are not.
IDENTIFIERS = dict(zip(ARG_ORDER, ARG_NAMES))
#: Prefix of the shared-subexpression temporaries (no argument name starts with an underscore).
TEMPORARY_PREFIX = "_t"

#: The exact-rational runtime the printed code calls. Every function takes and returns ``[n, d]`` pairs of BigInt
#: (d > 0, lowest terms); the comparisons return booleans. Names start with ``$``, which no argument name
#: (``ARG_NAMES``: N, P, ...) or temporary has.
RUNTIME = r"""
const $gcd=(a,b)=>{if(a<0n)a=-a;if(b<0n)b=-b;while(b){const t=a%b;a=b;b=t;}return a;};
const $q=(n,d=1n)=>{if(d<0n){n=-n;d=-d;}if(d===0n)throw new Error("division by zero");if(d!==1n){const g=$gcd(n,d);if(g!==1n){n/=g;d/=g;}}return [n,d];};
const $fdiv=(n,d)=>(n>=0n?n/d:-((-n+d-1n)/d));
const $A=(...xs)=>{let n=0n,d=1n;for(const x of xs){if(x[1]===d)n+=x[0];else{n=n*x[1]+x[0]*d;d*=x[1];}}return $q(n,d);};
const $M=(...xs)=>{let n=1n,d=1n;for(const x of xs){n*=x[0];d*=x[1];}return $q(n,d);};
const $P=(x,e)=>{let n=x[0],d=x[1];if(e<0){const t=n;n=d;d=t;e=-e;}const k=BigInt(e);return $q(n**k,d**k);};
const $F=(x)=>[$fdiv(x[0],x[1]),1n];
const $C=(x)=>[-$fdiv(-x[0],x[1]),1n];
const $cmp=(x,y)=>{const s=x[0]*y[1]-y[0]*x[1];return s>0n?1:(s<0n?-1:0);};
const $X=(...xs)=>xs.reduce((m,x)=>$cmp(x,m)>0?x:m);
const $N=(...xs)=>xs.reduce((m,x)=>$cmp(x,m)<0?x:m);
const $D=(a,b)=>$A(a,$M($q(-1n),b,$F($M(a,$P(b,-1)))));
const $lt=(a,b)=>$cmp(a,b)<0, $le=(a,b)=>$cmp(a,b)<=0, $gt=(a,b)=>$cmp(a,b)>0, $ge=(a,b)=>$cmp(a,b)>=0;
const $eq=(a,b)=>$cmp(a,b)===0, $ne=(a,b)=>$cmp(a,b)!==0;
"""

_RELATIONS = {"<": "$lt", "<=": "$le", ">": "$gt", ">=": "$ge", "==": "$eq", "!=": "$ne"}


class ExactJavascriptPrinter(JavascriptCodePrinter):
    """``JavascriptCodePrinter`` whose numbers and arithmetic go through ``RUNTIME`` (exact rationals over BigInt)."""

    def _print_Integer(self, expr):
        return f"$q({expr.p}n)"

    def _print_Rational(self, expr):
        return f"$q({expr.p}n,{expr.q}n)" if expr.q != 1 else self._print_Integer(expr)

    # SymPy's singletons have their own printer methods in the base classes: route them to the two above.
    def _print_Zero(self, expr):
        return self._print_Integer(expr)

    _print_One = _print_NegativeOne = _print_Zero

    def _print_Half(self, expr):
        return self._print_Rational(expr)

    def _print_Float(self, expr):
        raise TypeError(f"exact evaluation refuses a float constant ({expr}); use sympy.Rational")

    def _print_Symbol(self, expr):
        if expr in IDENTIFIERS:
            return IDENTIFIERS[expr]
        if expr.name.startswith(TEMPORARY_PREFIX):
            return expr.name
        raise ValueError(f"symbol {expr} is not an argument of the generated code ({', '.join(ARG_NAMES)})")

    def _call(self, name: str, args) -> str:
        return f"{name}({','.join(self._print(a) for a in args)})"

    def _print_Add(self, expr, order=None):
        return self._call("$A", expr.args)

    def _print_Mul(self, expr):
        return self._call("$M", expr.args)

    def _print_Pow(self, expr):
        base, exponent = expr.args
        if not exponent.is_Integer:
            raise ValueError(f"exact evaluation needs an integer exponent, got {expr}")
        return f"$P({self._print(base)},{int(exponent)})"

    def _print_floor(self, expr):
        return self._call("$F", expr.args)

    def _print_ceiling(self, expr):
        return self._call("$C", expr.args)

    def _print_Max(self, expr):
        return self._call("$X", expr.args)

    def _print_Min(self, expr):
        return self._call("$N", expr.args)

    def _print_Mod(self, expr):
        return self._call("$D", expr.args)

    def _print_Relational(self, expr):
        return f"{_RELATIONS[expr.rel_op]}({self._print(expr.lhs)},{self._print(expr.rhs)})"


def _repeated(expressions) -> set:
    """Non-atomic values (expressions and conditions, not Piecewise's (expr, cond) pairs) met more than once."""
    seen, repeated = set(), set()
    stack = list(expressions)
    while stack:
        node = stack.pop()
        if node.is_Atom:
            continue
        if node in seen:
            repeated.add(node)
            continue
        seen.add(node)
        stack.extend(node.args)
    return {node for node in repeated if isinstance(node, (sp.Expr, Boolean))}


class _SharingPrinter(ExactJavascriptPrinter):
    """Prints a shared subtree as a temporary, its ``const`` definition emitted the first time it is needed (so
    always before its use, even where a printer method rewrites a node, as ``ITE`` into ``Piecewise``), numbered in
    that order (the page is the same on every run). Called through ``_print``: ``doprint`` first walks the whole
    tree for ``UnevaluatedExpr`` (none here), once per call, which is quadratic."""

    def __init__(self, shared: set):
        super().__init__()
        self._shared = shared
        self._names: dict = {}
        self.definitions: list[str] = []

    def _print(self, expr, **kwargs):
        if expr not in self._shared:
            return super()._print(expr, **kwargs)
        name = self._names.get(expr)
        if name is None:
            code = super()._print(expr, **kwargs)
            name = self._names[expr] = f"{TEMPORARY_PREFIX}{len(self._names)}"
            self.definitions.append(f"const {name}={code};")
        return name


def function_source(expressions: list[sp.Expr]) -> str:
    """One JavaScript arrow function of all ``ARG_NAMES`` (each an exact ``[n, d]`` pair) returning the values of
    ``expressions`` in order, shared subexpressions computed once."""
    expressions = [sp.sympify(e) for e in expressions]
    printer = _SharingPrinter(_repeated(expressions))
    results = ",".join(printer._print(e) for e in expressions)
    body = "".join(printer.definitions)
    return f"({','.join(ARG_NAMES)})=>{{{body}return [{results}];}}"
