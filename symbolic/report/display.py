"""Display helpers for the derivation report (``notebooks/derivation.ipynb``, built by ``symbolic/report/build/build.py``).

Every object here renders twice from the same SymPy expression or text: ``_repr_html_`` (equations as MathML,
``sympy.printing.mathml``'s presentation printer, which browsers render natively and offline) and ``_repr_latex_``
(``sympy.latex``), so the HTML and the LaTeX / PDF exports show the same equations and nothing is typed twice.

Also here: the closed-form helpers the report uses (substituting H = 8h, W = 8w and dropping moments that another
moment dominates coefficient by coefficient), the ``#:`` comment reader that turns the package's documented
constants into tables, a Markdown -> LaTeX renderer for the notebook's prose cells (no pandoc needed), and
deterministic figure output.
"""
from __future__ import annotations

import base64
import html
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.dom import minidom

import sympy as sp
from sympy.printing.mathml import MathMLPresentationPrinter

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Where the notebook saves its figures: set by the build (a temporary directory), else ``report/figures``.
FIGURES_ENV = "SYMBOLIC_REPORT_FIGURES"


# --- escaping ------------------------------------------------------------------------------------------------------

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
    "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
    "|": r"\textbar{}",
}
#: Non-ASCII characters the prose may contain, in LaTeX (pdflatex with T1 fonts; anything else is refused).
_LATEX_UNICODE = {
    "\u00d7": r"$\times$", "\u2212": "-", "\u2013": "--", "\u2014": "---", "\u2026": r"\dots{}", "\u2248": r"$\approx$",
    "\u2264": r"$\le$", "\u2265": r"$\ge$", "\u00b2": r"$^2$", "\u00b3": r"$^3$", "\u00b7": r"$\cdot$",
    "\u2192": r"$\to$", "\u2019": "'", "\u2018": "`", "\u201c": "``", "\u201d": "''", "\u00a0": "~", "\u221e": r"$\infty$",
    "\u00b5": r"$\mu$", "\u00e9": r"\'e", "\u2032": "'",
}


def latex_escape(text: str) -> str:
    out = []
    for char in str(text):
        if char in _LATEX_SPECIAL:
            out.append(_LATEX_SPECIAL[char])
        elif ord(char) < 128:
            out.append(char)
        elif char in _LATEX_UNICODE:
            out.append(_LATEX_UNICODE[char])
        else:
            out.append("?")
    return "".join(out)


def latex_text(text: str) -> str:
    """Prose in LaTeX: escaped, with break points after underscores (identifiers in tables and notes)."""
    return latex_escape(text).replace(r"\_", r"\_\allowbreak{}")


def latex_code(text: str) -> str:
    """Inline code in LaTeX: monospace, breakable after ``_``, ``.``, ``/`` and ``,`` (long identifiers)."""
    escaped = latex_escape(text)
    for sep in (r"\_", ".", "/", ","):
        escaped = escaped.replace(sep, sep + r"\allowbreak{}")
    return r"\texttt{" + escaped + "}"


def html_escape(text: str) -> str:
    return html.escape(str(text), quote=True)


# --- names and printers ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Name:
    latex: str
    mathml: str


#: Symbols introduced by the report (term names, stage transients, h and w), by SymPy name.
_NAMES: dict[str, _Name] = {}


def _register(symbol_name: str, latex: str, mathml: str, **assumptions) -> sp.Symbol:
    _NAMES[symbol_name] = _Name(latex, mathml)
    return sp.Symbol(symbol_name, **(assumptions or {"positive": True}))


def _mi(text: str) -> str:
    return f"<mi>{html_escape(text)}</mi>"


def term_symbol(name: str) -> sp.Symbol:
    """A symbol standing for a term (or any named quantity) by its name: ``\\mathrm{unet\\_geglu}``."""
    return _register(f"[{name}]", r"\mathrm{" + latex_escape(name) + "}", _mi(name))


def sub_symbol(base: str, *subscripts: str) -> sp.Symbol:
    """``base`` with upright subscripts separated by commas, e.g. T_{vae_decode, upsampler_conv}."""
    latex = base + "_{" + r",\,".join(r"\mathrm{" + latex_escape(s) + "}" for s in subscripts) + "}"
    inner = "<mo>,</mo>".join(_mi(s) for s in subscripts)
    mathml = f"<msub>{_mi(base)}<mrow>{inner}</mrow></msub>"
    return _register(f"{base}[{','.join(subscripts)}]", latex, mathml)


#: Latent height and width in latent pixels: H = 8h, W = 8w for sizes that are multiples of 8.
h = _register("h", "h", _mi("h"), positive=True, integer=True)
w = _register("w", "w", _mi("w"), positive=True, integer=True)
#: The resident bytes.
R = _register("R", "R", _mi("R"))

_SUBSCRIPT = re.compile(r"^([A-Za-z]+)_\{([A-Za-z0-9]+)\}$")


class _Printer(MathMLPresentationPrinter):
    """sympy's presentation MathML printer, with the report's names and a readable Piecewise."""

    def _element(self, xml: str):
        return self.dom.importNode(minidom.parseString(xml).documentElement, True)

    def _text(self, tag: str, text: str):
        node = self.dom.createElement(tag)
        node.appendChild(self.dom.createTextNode(html_escape(text)))
        return node

    def _print_Symbol(self, sym, style="plain"):
        if sym.name in _NAMES:
            return self._element(_NAMES[sym.name].mathml)
        match = _SUBSCRIPT.match(sym.name)  # symbols.py names symbols by their LaTeX, e.g. C_{lat}
        if match:
            return self._element(f"<msub>{_mi(match.group(1))}{_mi(match.group(2))}</msub>")
        return super()._print_Symbol(sym, style)

    def _print_Piecewise(self, expr):
        row = self.dom.createElement("mrow")
        row.appendChild(self._text("mo", "{"))
        table = self.dom.createElement("mtable")
        for value, condition in expr.args:
            tr = self.dom.createElement("mtr")
            first = self.dom.createElement("mtd")
            first.appendChild(self._print(value))
            second = self.dom.createElement("mtd")
            if condition == sp.true:
                second.appendChild(self._text("mtext", "\u2003otherwise"))
            else:
                inner = self.dom.createElement("mrow")
                inner.appendChild(self._text("mtext", "\u2003if\u2002"))
                inner.appendChild(self._print(condition))
                second.appendChild(inner)
            tr.appendChild(first)
            tr.appendChild(second)
            table.appendChild(tr)
        row.appendChild(table)
        return row


def to_mathml(expr) -> str:
    """Presentation MathML of ``expr`` (the inside of a ``<math>`` element)."""
    return _Printer({}).doprint(sp.sympify(expr))


def to_latex(expr) -> str:
    expr = sp.sympify(expr)
    names = {s: _NAMES[s.name].latex for s in expr.free_symbols if isinstance(s, sp.Symbol) and s.name in _NAMES}
    return sp.latex(expr, symbol_names=names)


def _visible(latex: str) -> int:
    """Rough printed width of a LaTeX string in characters (commands and braces dropped)."""
    stripped = re.sub(r"\\(left|right|mathrm|frac|cdot|,|;|quad|qquad|big|Big)", "", latex)
    stripped = re.sub(r"\\[A-Za-z]+", "x", stripped)
    return len(re.sub(r"[{}^_ ]", "", stripped))


# --- display objects ------------------------------------------------------------------------------------------------

class Display:
    """Something the notebook displays: HTML (MathML for math) and LaTeX from the same source."""

    def html(self) -> str:
        raise NotImplementedError

    def latex(self) -> str:
        raise NotImplementedError

    def text(self) -> str:
        return type(self).__name__

    def _repr_html_(self) -> str:
        return self.html()

    def _repr_latex_(self) -> str:
        return self.latex()

    def __repr__(self) -> str:
        return self.text()


class Math(Display):
    """An expression, inline (in prose and tables) or displayed."""

    def __init__(self, expr, display: bool = False) -> None:
        self.expr = sp.sympify(expr)
        self.display = display

    def html(self) -> str:
        mode = ' display="block"' if self.display else ""
        return f"<math{mode}>{to_mathml(self.expr)}</math>"

    def latex(self) -> str:
        return _fit(to_latex(self.expr)) if self.display else f"${to_latex(self.expr)}$"

    def text(self) -> str:
        return sp.sstr(self.expr)


@dataclass
class Row:
    """One line of an aligned equation: left side (or None), relation, right-side pieces, annotation."""

    pieces: list  # (latex, mathml) pairs, concatenated
    lhs: object = None
    relation: str = "="
    annotation: str = ""


def _pair(expr) -> tuple[str, str]:
    return to_latex(expr), to_mathml(expr)


def _op(latex: str, mathml_text: str) -> tuple[str, str]:
    return latex, f"<mo>{html_escape(mathml_text)}</mo>"


class Equation(Display):
    """``lhs = rhs`` as display math. ``rhs`` is an expression, or a list of expressions meaning their sum in that
    order; a long sum or a Max is broken over several aligned lines (``width``: characters per line)."""

    def __init__(self, lhs, rhs, annotation: str = "", width: int = 64, relation: str = "=") -> None:
        self.lhs = sp.sympify(lhs)
        self.rhs = rhs
        self.rows = self._layout(rhs, annotation, width, relation)

    def _layout(self, rhs, annotation, width, relation) -> list[Row]:
        parts = [sp.sympify(t) for t in rhs] if isinstance(rhs, (list, tuple)) else None
        if parts is None:
            expr = sp.sympify(rhs)
            if _visible(to_latex(expr)) + _visible(to_latex(self.lhs)) <= width:
                return [Row([_pair(expr)], self.lhs, relation, annotation)]
            if isinstance(expr, sp.Add):
                parts = list(sp.Add.make_args(expr))
            else:
                return [Row([_pair(expr)], self.lhs, relation, annotation)]
        rows, current, used = [], [], 0
        for i, part in enumerate(parts):
            latex = to_latex(part)
            if current and used + _visible(latex) > width:
                rows.append(current)
                current, used = [], 0
            if i:
                current.append(_op("+", "+"))
            current.append((latex, to_mathml(part)))
            used += _visible(latex) + 2
        rows.append(current)
        out = [Row(rows[0], self.lhs, relation, annotation)]
        out += [Row([(r"\quad ", '<mspace width="1em"/>')] + r) for r in rows[1:]]
        return out

    def html(self) -> str:
        return _aligned_html(self.rows)

    def latex(self) -> str:
        return _aligned_latex(self.rows)

    def text(self) -> str:
        rhs = " + ".join(sp.sstr(t) for t in self.rhs) if isinstance(self.rhs, (list, tuple)) else sp.sstr(self.rhs)
        return f"{sp.sstr(self.lhs)} = {rhs}"


class MaxEquation(Display):
    """``lhs = head + max(arg_1, ..., arg_n)`` with one argument per line, each with an optional annotation."""

    def __init__(self, lhs, args: Sequence, annotations: Sequence[str] = (), head=None, name: str = "max") -> None:
        self.lhs, self.args, self.head = sp.sympify(lhs), [sp.sympify(a) for a in args], head
        annotations = list(annotations) or [""] * len(self.args)
        first = [] if head is None else [_pair(head), _op("+", "+")]
        first.append((r"\max\big(", f"<mo>{name}</mo><mo>(</mo>"))
        rows = [Row(first, self.lhs)]
        for i, (arg, note) in enumerate(zip(self.args, annotations)):
            last = i == len(self.args) - 1
            tail = (r"\,\big)", "<mo>)</mo>") if last else (",", "<mo>,</mo>")
            rows.append(Row([(r"\qquad ", '<mspace width="2em"/>'), _pair(arg), tail], annotation=note))
        self.rows = rows

    def html(self) -> str:
        return _aligned_html(self.rows)

    def latex(self) -> str:
        return _aligned_latex(self.rows)

    def text(self) -> str:
        head = f"{sp.sstr(self.head)} + " if self.head is not None else ""
        return f"{sp.sstr(self.lhs)} = {head}Max({', '.join(sp.sstr(a) for a in self.args)})"


def _fit(latex: str) -> str:
    """Display math that shrinks to the line width when wider (adjustbox's ``max width``), never grows."""
    return f"$$ \\adjustbox{{max width=\\linewidth}}{{$\\displaystyle {latex}$}} $$"


def _aligned_latex(rows: list[Row]) -> str:
    if len(rows) == 1 and not rows[0].annotation:
        row = rows[0]
        return _fit(f"{to_latex(row.lhs)} {row.relation} {''.join(p[0] for p in row.pieces)}")
    lines = []
    for row in rows:
        lhs = to_latex(row.lhs) if row.lhs is not None else ""
        rel = f"&{row.relation} " if row.lhs is not None else "& "
        note = r" && \text{\footnotesize " + latex_escape(row.annotation) + "}" if row.annotation else ""
        lines.append(f"{lhs} {rel}{''.join(p[0] for p in row.pieces)}{note}")
    return _fit("\\begin{aligned} " + r" \\ ".join(lines) + r" \end{aligned}")


def _aligned_html(rows: list[Row]) -> str:
    if len(rows) == 1 and not rows[0].annotation:
        row = rows[0]
        body = f"{to_mathml(row.lhs)}<mo>{html_escape(row.relation)}</mo>{''.join(p[1] for p in row.pieces)}"
        return f'<div class="sym-eq"><math display="block"><mrow>{body}</mrow></math></div>'
    trs = []
    for row in rows:
        lhs = to_mathml(row.lhs) if row.lhs is not None else ""
        rel = f"<mo>{html_escape(row.relation)}</mo>" if row.lhs is not None else ""
        note = f"<mtext>{html_escape(row.annotation)}</mtext>" if row.annotation else ""
        trs.append(f'<mtr><mtd class="sym-lhs">{lhs}</mtd><mtd class="sym-rel">{rel}</mtd>'
                   f'<mtd class="sym-rhs"><mrow>{"".join(p[1] for p in row.pieces)}</mrow></mtd>'
                   f'<mtd class="sym-note">{note}</mtd></mtr>')
    return f'<div class="sym-eq"><math display="block"><mtable>{"".join(trs)}</mtable></math></div>'


_CODE = re.compile(r"`([^`]+)`")


class Text(Display):
    """A paragraph: strings (with ``code`` in backticks) and inline ``Math``; ``label`` is set in bold first."""

    def __init__(self, *parts, label: str = "", small: bool = False) -> None:
        self.parts, self.label, self.small = parts, label, small

    def _html_part(self, part) -> str:
        if isinstance(part, Display):
            return part.html()
        pieces = _CODE.split(str(part).replace("``", "`"))
        return "".join(f"<code>{html_escape(p)}</code>" if i % 2 else html_escape(p) for i, p in enumerate(pieces))

    def _latex_part(self, part) -> str:
        if isinstance(part, Display):
            return part.latex()
        pieces = _CODE.split(str(part).replace("``", "`"))
        return "".join(latex_code(p) if i % 2 else latex_text(p) for i, p in enumerate(pieces))

    def html(self) -> str:
        label = f"<strong>{html_escape(self.label)}</strong> " if self.label else ""
        cls = ' class="sym-small"' if self.small else ""
        return f"<p{cls}>{label}{''.join(self._html_part(p) for p in self.parts)}</p>"

    def latex(self) -> str:
        label = r"\textbf{" + latex_escape(self.label) + "} " if self.label else ""
        body = label + "".join(self._latex_part(p) for p in self.parts)
        return ("{\\small\\raggedright " + body + "\\par}" if self.small else body) + "\n\n"

    def text(self) -> str:
        return (self.label + " " if self.label else "") + "".join(p.text() if isinstance(p, Display) else str(p)
                                                                  for p in self.parts)


class Prose(Display):
    """A docstring or other plain prose: paragraphs separated by blank lines, ``*`` / ``-`` bullet lists (indented
    lines continue an item), RST ``code`` and Markdown `code` as code."""

    _BULLET = re.compile(r"^\s*[*-] ")

    def __init__(self, text: str) -> None:
        import inspect

        self.blocks: list[tuple[str, list[str]]] = []  # ("p", [text]) or ("ul", [item, ...])
        for paragraph in re.split(r"\n\s*\n", inspect.cleandoc(text or "")):
            lead, items = [], []
            for line in paragraph.splitlines():
                if self._BULLET.match(line):
                    items.append(self._BULLET.sub("", line).strip())
                elif items:
                    items[-1] += " " + line.strip()
                else:
                    lead.append(line.strip())
            if lead:
                self.blocks.append(("p", [" ".join(lead)]))
            if items:
                self.blocks.append(("ul", items))

    def html(self) -> str:
        out = []
        for kind, texts in self.blocks:
            if kind == "p":
                out.append(Text(texts[0]).html())
            else:
                out.append("<ul>" + "".join(f"<li>{Text(t)._html_part(t)}</li>" for t in texts) + "</ul>")
        return "".join(out)

    def latex(self) -> str:
        out = []
        for kind, texts in self.blocks:
            if kind == "p":
                out.append(Text(texts[0]).latex())
            else:
                items = "".join(f"\\item {Text(t)._latex_part(t)}\n" for t in texts)
                out.append("\\begin{itemize}\n" + items + "\\end{itemize}\n\n")
        return "".join(out)

    def text(self) -> str:
        return "\n\n".join(t[0] if k == "p" else "\n".join("* " + x for x in t) for k, t in self.blocks)


class Heading(Display):
    """A section heading (level 2: section, 3: subsection, 4: subsubsection)."""

    def __init__(self, text: str, level: int = 3) -> None:
        self.title, self.level = text, level

    def html(self) -> str:
        return f"<h{self.level}>{_CODE.sub(lambda m: '<code>' + m.group(1) + '</code>', html_escape(self.title))}</h{self.level}>"

    def latex(self) -> str:
        command = {2: "section", 3: "subsection", 4: "subsubsection"}.get(self.level, "paragraph")
        title = _CODE.sub(lambda m: m.group(1), self.title)
        return f"\\{command}{{{latex_escape(title)}}}\n\n"

    def text(self) -> str:
        return self.title


class Table(Display):
    """A table whose cells are strings (``code`` allowed), ``Display`` objects or numbers. ``columns``: LaTeX
    column specs (e.g. ``p{6cm}``, ``r``); ``align`` right-aligns numeric columns in HTML."""

    def __init__(self, header: Sequence[str], rows: Iterable[Sequence], columns: Sequence[str] | None = None,
                 small: bool = False, caption: str = "") -> None:
        self.header = list(header)
        self.rows = [list(r) for r in rows]
        self.columns = list(columns) if columns else ["l"] * len(self.header)
        self.small, self.caption = small, caption

    @staticmethod
    def _cell(value, latex: bool) -> str:
        if isinstance(value, Display):
            return value.latex() if latex else value.html()
        text = Text(str(value))
        return text._latex_part(str(value)) if latex else text._html_part(str(value))

    def html(self) -> str:
        head = "".join(f"<th>{html_escape(h)}</th>" for h in self.header)
        body = []
        for row in self.rows:
            cells = []
            for spec, value in zip(self.columns, row):
                cls = ' class="sym-num"' if spec == "r" else ""
                cells.append(f"<td{cls}>{self._cell(value, False)}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        caption = f"<caption>{html_escape(self.caption)}</caption>" if self.caption else ""
        return (f'<table class="sym-table">{caption}<thead><tr>{head}</tr></thead>'
                f'<tbody>{"".join(body)}</tbody></table>')

    def latex(self) -> str:
        # p{...} columns set ragged-right (justified narrow columns leave wide gaps)
        spec = "@{}" + "".join(r">{\raggedright\arraybackslash}" + c if c.startswith("p{") else c
                               for c in self.columns) + "@{}"
        head = " & ".join(r"\textbf{" + latex_escape(h) + "}" for h in self.header)
        body = " \\\\\n".join(" & ".join(self._cell(v, True) for v in row) for row in self.rows)
        size = "\\footnotesize\\setlength{\\tabcolsep}{4pt}\n" if self.small else ""
        caption = f"\\caption*{{{latex_escape(self.caption)}}}\\\\\n" if self.caption else ""
        return (f"{{{size}\\setlength{{\\LTpre}}{{4pt}}\\setlength{{\\LTpost}}{{4pt}}\n"
                f"\\begin{{longtable}}{{{spec}}}\n{caption}\\toprule\n{head} \\\\\n\\midrule\n\\endhead\n"
                f"{body} \\\\\n\\bottomrule\n\\end{{longtable}}}}\n\n")

    def text(self) -> str:
        return "\n".join(" | ".join(str(c) for c in row) for row in [self.header] + self.rows)


class Figure(Display):
    """A PNG saved under the figures directory: embedded (data URI) in HTML, ``\\includegraphics`` in LaTeX."""

    def __init__(self, path: Path, alt: str, width: str = r"0.95\linewidth") -> None:
        self.path, self.alt, self.width = Path(path), alt, width

    def html(self) -> str:
        data = base64.b64encode(self.path.read_bytes()).decode("ascii")
        return (f'<figure class="sym-figure"><img src="data:image/png;base64,{data}" alt="{html_escape(self.alt)}"/>'
                f"<figcaption>{html_escape(self.alt)}</figcaption></figure>")

    def latex(self) -> str:
        return (f"\\begin{{center}}\n\\includegraphics[width={self.width}]{{figures/{self.path.name}}}\n"
                f"\\par{{\\small {latex_escape(self.alt)}}}\n\\end{{center}}\n\n")

    def text(self) -> str:
        return f"[figure {self.path.name}: {self.alt}]"


class Block(Display):
    """Several display objects shown as one output."""

    def __init__(self, *items: Display) -> None:
        self.items = [i for i in items if i is not None]

    def html(self) -> str:
        return '<div class="sym-block">' + "".join(i.html() for i in self.items) + "</div>"

    def latex(self) -> str:
        return "\n".join(i.latex() for i in self.items) + "\n"

    def text(self) -> str:
        return "\n".join(i.text() for i in self.items)


def show(*items: Display) -> None:
    """Display the items as one output (in the notebook)."""
    from IPython.display import display

    display(Block(*items))


# --- formatting -----------------------------------------------------------------------------------------------------

def gib(num_bytes) -> str:
    return f"{float(num_bytes) / 2**30:.3f}"


def percent(value) -> str:
    return f"{100 * float(value):+.2f}%"


# --- the package's documented constants (``#:`` comments) -------------------------------------------------------

def attribute_docs(source_path: Path, names: Iterable[str] | None = None, scope: str | None = None) -> dict[str, str]:
    """``#:`` comments above assignments in a Python file (Sphinx's convention), by assigned name. Consecutive
    assignments after one comment share it. ``scope``: only inside ``class <scope>``."""
    text = Path(source_path).read_text()
    docs: dict[str, str] = {}
    comment: list[str] = []
    last_doc = ""
    inside = scope is None
    assignment = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?::[^=]+)?=(?!=)")
    for line in text.splitlines():
        stripped = line.strip()
        if scope is not None:
            if re.match(rf"class {scope}\b", line):
                inside = True
                continue
            if inside and line and not line[0].isspace() and not stripped.startswith("#"):
                inside = False
        if not inside:
            continue
        if stripped.startswith("#:"):
            comment.append(stripped[2:].strip())
            continue
        match = assignment.match(line)
        if match and scope is None and line[0].isspace():
            match = None  # a local variable inside a function, not a module attribute
        if match:
            if comment:
                last_doc = " ".join(comment)
            docs.setdefault(match.group(1), last_doc)
            comment = []
            continue
        comment, last_doc = [], ""
    if names is not None:
        docs = {name: docs.get(name, "") for name in names}
    return docs


# --- closed forms ---------------------------------------------------------------------------------------------------

def latent_form(expr) -> sp.Expr:
    """``expr`` with H = 8h, W = 8w (sizes that are multiples of 8: floor(H/8) = h), simplified."""
    from symbolic.core.symbols import H, W

    return sp.simplify(sp.sympify(expr).subs({H: 8 * h, W: 8 * w}))


def _nonnegative_coefficients(expr: sp.Expr) -> bool:
    expr = sp.expand(expr)
    if expr == 0:
        return True
    if expr.has(sp.Max, sp.Min, sp.Piecewise, sp.floor, sp.ceiling):
        return False
    try:
        poly = sp.Poly(expr, *sorted(expr.free_symbols, key=lambda s: s.name))
    except sp.PolynomialError:
        return False
    return all(c >= 0 for c in poly.coeffs())


def dominates(upper: sp.Expr, lower: sp.Expr) -> bool:
    """True when ``upper >= lower`` for every G in {1, 2} and all positive values of the other symbols, shown by
    ``upper - lower`` having only non-negative coefficients as a polynomial (a sufficient condition)."""
    from symbolic.core.symbols import G

    difference = sp.sympify(upper) - sp.sympify(lower)
    return all(_nonnegative_coefficients(difference.subs(G, g)) for g in (1, 2))


@dataclass
class Piece:
    stage: str
    moment: str
    expr: sp.Expr
    dominated_by: str = ""


@dataclass
class ClosedForm:
    """The allocated peak of one configuration as R + Max over the moments that are not dominated."""

    resident: sp.Expr
    pieces: list[Piece] = field(default_factory=list)

    @property
    def kept(self) -> list[Piece]:
        return [p for p in self.pieces if not p.dominated_by]

    @property
    def expr(self) -> sp.Expr:
        from symbolic.core.algebra import maximum

        return self.resident + maximum(*(p.expr for p in self.kept))


def closed_form(model) -> ClosedForm:
    """Every moment's sum in latent form, and which moment (if any) dominates it."""
    pieces = [Piece(getattr(stage, "value", stage), moment, latent_form(expr))
              for stage in model.stages for moment, expr in model.moments(stage).items()]
    for piece in pieces:
        for other in pieces:
            if other is piece or other.dominated_by:
                continue
            if dominates(other.expr, piece.expr) and not (dominates(piece.expr, other.expr)
                                                        and pieces.index(other) > pieces.index(piece)):
                piece.dominated_by = f"{other.stage}/{other.moment}"
                break
    return ClosedForm(sp.simplify(model.resident), pieces)


def closed_form_display(form: ClosedForm, lhs) -> MaxEquation:
    kept = form.kept
    return MaxEquation(lhs, [p.expr for p in kept], [f"{p.stage} / {p.moment}" for p in kept], head=form.resident)


# --- figures --------------------------------------------------------------------------------------------------------

def figures_dir() -> Path:
    path = Path(os.environ.get(FIGURES_ENV) or REPO_ROOT / "report" / "figures")
    path.mkdir(parents=True, exist_ok=True)
    return path


def setup_matplotlib():
    """Agg backend and fixed rcParams, so that the same data give the same PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcdefaults()
    matplotlib.rcParams.update({
        "font.family": "DejaVu Sans", "font.size": 9, "figure.dpi": 100, "savefig.dpi": 130,
        "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False,
        "legend.fontsize": 8, "legend.frameon": False, "svg.hashsalt": "symbolic", "path.simplify": False,
        "axes.prop_cycle": matplotlib.cycler(color=["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                                    "#8c564b", "#e377c2", "#7f7f7f", "#17becf", "#bcbd22"]),
    })
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, name: str, alt: str) -> Figure:
    """Save ``fig`` as figures/<name>.png with no varying metadata, close it, and return its display object."""
    import matplotlib.pyplot as plt

    path = figures_dir() / f"{name}.png"
    fig.savefig(path, format="png", metadata={"Software": None}, bbox_inches="tight", pad_inches=0.05)
    plt.close(fig)
    return Figure(path, alt)


# --- expensive results, cached with the package's digest, computed in parallel on a miss --------------------------

class _Miss(Exception):
    pass


def _raise_miss():
    raise _Miss


def _roundtrip(value):
    return json.loads(json.dumps(value))


def cached_jobs(namespace: str, jobs: dict, workers: int | None = None) -> dict:
    """``{name: function(*args)}`` for ``jobs = {name: (function, args)}`` (module-level functions, JSON results).

    Each result comes from the package's on-disk cache (``symbolic.core.evaluate.cache``, keyed by the package's source digest)
    when present; the missing ones are computed in a pool of processes (in the order given) and stored. Results
    always pass through JSON, so a cold and a warm build print the same values."""
    from symbolic.core.evaluate.cache import load_or_build

    def key(name):
        function, args = jobs[name]
        return f"{function.__name__}{args!r}"

    results, missing = {}, []
    for name in jobs:
        try:
            results[name] = _roundtrip(load_or_build(f"report-{namespace}", key(name), _raise_miss, ("value",)))["value"]
        except _Miss:
            missing.append(name)
    if missing:
        computed = _run_parallel({name: jobs[name] for name in missing}, workers)
        for name in missing:
            entry = load_or_build(f"report-{namespace}", key(name), lambda name=name: {"value": computed[name]},
                                  ("value",))
            results[name] = _roundtrip(entry)["value"]
    return {name: results[name] for name in jobs}


def _run_parallel(jobs: dict, workers: int | None) -> dict:
    import concurrent.futures
    import multiprocessing

    workers = max(1, min(len(jobs), workers or os.cpu_count() or 1))
    if workers == 1:
        return {name: function(*args) for name, (function, args) in jobs.items()}
    context = multiprocessing.get_context("spawn")  # a clean interpreter per worker (safe inside a kernel)
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {name: pool.submit(function, *args) for name, (function, args) in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


def asymptotics_job(config_items: tuple) -> dict:
    """``symbolic.analysis.asymptotics.analyse`` for one configuration (``config_items``: sorted (key, value) pairs)."""
    from symbolic.analysis.asymptotics import analyse

    return analyse(**dict(config_items))


def max_square_job(config_items: tuple, budgets_gib: tuple, criterion: str = "nvidia-smi") -> list:
    """``symbolic.analysis.planning.max_square_size`` for each budget (GiB) of one configuration."""
    from symbolic.analysis.planning import max_square_size
    from symbolic.core.units import GiB

    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in dict(config_items).items()}
    return [max_square_size(budget * GiB, criterion, **kwargs)["size"] for budget in budgets_gib]


# --- Markdown -> LaTeX (the notebook's prose cells, for the LaTeX export) -------------------------------------------

def markdown_to_latex(source: str) -> str:
    """LaTeX for a Markdown cell: headings (# is the title, skipped: the LaTeX title comes from the notebook's
    metadata), paragraphs, emphasis, inline code, lists, links (text and URL as code), block quotes, code blocks."""
    import mistune

    class _Renderer(mistune.HTMLRenderer):
        def text(self, text):
            return latex_escape(text)

        def emphasis(self, text):
            return r"\emph{" + text + "}"

        def strong(self, text):
            return r"\textbf{" + text + "}"

        def codespan(self, text):
            return latex_code(text)

        def link(self, text, url, title=None):
            return text if text and text != latex_escape(url) else latex_code(url)

        def image(self, text, url, title=None):
            return text

        def linebreak(self):
            return "\\\\\n"

        def softbreak(self):
            return "\n"

        def inline_html(self, html_text):
            return ""

        def paragraph(self, text):
            return text + "\n\n"

        def heading(self, text, level, **attrs):
            if level == 1:
                return ""
            command = {2: "section", 3: "subsection", 4: "subsubsection"}.get(level, "paragraph")
            return f"\\{command}{{{text}}}\n\n"

        def blank_line(self):
            return ""

        def thematic_break(self):
            return "\\medskip\\hrule\\medskip\n\n"

        def block_text(self, text):
            return text

        def block_code(self, code, info=None):
            return "\\begin{verbatim}\n" + code + "\\end{verbatim}\n\n"

        def block_quote(self, text):
            return "\\begin{quote}\n" + text + "\\end{quote}\n\n"

        def block_html(self, html_text):
            return ""

        def block_error(self, text):
            return ""

        def list(self, text, ordered, **attrs):
            env = "enumerate" if ordered else "itemize"
            return f"\\begin{{{env}}}\n{text}\\end{{{env}}}\n\n"

        def list_item(self, text):
            return "\\item " + text.strip() + "\n"

    render = mistune.create_markdown(renderer=_Renderer(escape=False), plugins=["strikethrough"])
    return render(source)


# --- the distilled equation (symbolic/analysis/distill.py) -------------------------------------------------------------------

#: Order of the factors in a printed monomial: bytes per element first, then batch, frames, sizes, devices
#: (Korthikanti et al.'s ``s b h`` reading: the sizes, then the short sum).
_FACTOR_ORDER = ("b", "B", "T", "H", "W", "P")


def monomial_pair(monomial) -> tuple[str, str]:
    """(LaTeX, MathML) of a monomial in the order ``b B T H W P`` (``1`` prints nothing); a non-polynomial part
    (a Max kept whole) prints as itself."""
    monomial = sp.sympify(monomial)
    if monomial == 1:
        return "", ""
    powers = monomial.as_powers_dict()
    if not all(isinstance(base, sp.Symbol) and base.name in _FACTOR_ORDER for base in powers):
        return _pair(monomial)
    latex, mathml = [], []
    for name in _FACTOR_ORDER:
        for base, power in powers.items():
            if base.name == name:
                if power == 1:
                    latex.append(name)
                    mathml.append(_mi(name))
                else:
                    latex.append(f"{name}^{{{power}}}")
                    mathml.append(f"<msup>{_mi(name)}<mn>{power}</mn></msup>")
    return r"\,".join(latex), "<mo>&#x2062;</mo>".join(mathml)


def _labelled(expr, label: int) -> tuple[str, str]:
    latex, mathml = _pair(expr)
    return (rf"\underbrace{{{latex}}}_{{({label})}}",
            f"<munder><mrow>{mathml}</mrow><mrow><mtext mathsize=\"70%\">({label})</mtext></mrow></munder>")


class DistilledEquation(Display):
    """``lhs = M_w + monomial (c_1 + c_2 + ...) + ...``: one line per monomial, each coefficient with the number of
    its addend in the tally beneath it (``\\underbrace``)."""

    def __init__(self, lhs, weights_symbol, groups, labels: dict[str, int], annotation: str = "") -> None:
        self.lhs = sp.sympify(lhs)
        rows = [Row([_pair(weights_symbol)], self.lhs, "=", annotation)]
        for monomial, pairs in groups:
            mono_latex, mono_mathml = monomial_pair(monomial)
            pieces = [(r"+\;", "<mo>+</mo>")]
            if not mono_latex or len(pairs) == 1 and pairs[0][1] == 1:
                inner = [_labelled(c if mono_latex == "" else monomial, labels[a.name]) for a, c in pairs]
                joined = []
                for i, piece in enumerate(inner):
                    joined += ([_op("+", "+")] if i else []) + [piece]
                pieces += joined if len(joined) == 1 else [(r"\big(", "<mo>(</mo>")] + joined + [(r"\big)", "<mo>)</mo>")]
            else:
                pieces.append((mono_latex + r"\,", mono_mathml))
                pieces.append((r"\big(", "<mo>(</mo>"))
                for i, (addend, coefficient) in enumerate(pairs):
                    if i:
                        pieces.append(_op("+", "+"))
                    pieces.append(_labelled(coefficient, labels[addend.name]))
                pieces.append((r"\big)", "<mo>)</mo>"))
            rows.append(Row(pieces))
        self.rows = rows

    def html(self) -> str:
        return _aligned_html(self.rows)

    def latex(self) -> str:
        return _aligned_latex(self.rows)

    def text(self) -> str:
        return " ".join("".join(p[0] for p in row.pieces) for row in self.rows)


# --- symbols: one meaning each --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Glossed:
    """A symbol as the report prints it, with its one meaning."""

    symbol: sp.Symbol
    meaning: str

    @property
    def printed(self) -> str:
        return to_latex(self.symbol)


#: Symbols the report itself introduces (not in ``symbolic.core.symbols``), by SymPy name -> meaning. Each prints
#: differently from every package symbol (checked by ``glossary``): the stage activations are ``A``, not ``T``
#: (frames), the square side is ``a``, not ``s`` (the VAE's spatial compression), the sequence length of an
#: attention is ``n``, not ``N``.
SQUARE_SIDE = _register("a", "a", _mi("a"), positive=True, integer=True)
WEIGHTS_SYMBOL = _register("M_w", "M_{w}", f"<msub>{_mi('M')}{_mi('w')}</msub>")
SEQUENCE = _register("n", "n", _mi("n"), positive=True, integer=True)
REPORT_SYMBOLS = {
    "h": "latent height, floor(H / 8) for the 8x-downsampling VAEs (H = 8h for multiples of 8)",
    "w": "latent width, floor(W / 8) (W = 8w)",
    "R": "resident bytes: weights, their allocator rounding and the cuBLAS workspace, live in every stage",
    "a": "side of a square image, H = W = a (asymptotics, planning)",
    "M_w": "bytes of the resident weights (parameters and buffers of every component on the GPU)",
    "n": "sequence length of an attention (tokens); n x n scores where a kernel stores them",
}


def stage_symbol(stage: str, moment: str | None = None) -> sp.Symbol:
    """``A_stage`` (a stage's activation: its peak minus the resident bytes) or ``A_stage,moment``."""
    return sub_symbol("A", stage, *([moment] if moment else []))


def glossary(exprs: Iterable, extra: Iterable[str] = ()) -> list[Glossed]:
    """The symbols the report prints: the free symbols of ``exprs`` (package symbols and the report's own) plus the
    report symbols named in ``extra``, each with its meaning; a ValueError when two of them print the same."""
    from symbolic.core import symbols as package

    meanings: dict[str, str] = {info.symbol.name: info.meaning for info in package.infos()}
    report = {name: sym for name, sym in ((n, sp.Symbol(n)) for n in REPORT_SYMBOLS)}
    used: dict[str, sp.Symbol] = {}
    for expr in exprs:
        for sym in sp.sympify(expr).free_symbols:
            used.setdefault(sym.name, sym)
    for name in extra:
        used.setdefault(name, report[name])
    out, printed = [], {}
    for name, sym in sorted(used.items(), key=lambda item: _GLOSSARY_ORDER(item[0])):
        if name.startswith("A[") or name.startswith("["):
            continue  # stage activations and term names: defined where they are used
        meaning = REPORT_SYMBOLS.get(name) or meanings.get(name)
        if meaning is None:
            raise ValueError(f"symbol {name!r} has no meaning in symbolic.core.symbols or REPORT_SYMBOLS")
        entry = Glossed(sym, meaning)
        if entry.printed in printed and printed[entry.printed] != meaning:
            raise ValueError(f"symbol {entry.printed!r} would mean two things: {printed[entry.printed]!r} and "
                             f"{meaning!r}")
        printed[entry.printed] = meaning
        out.append(entry)
    return out


def _GLOSSARY_ORDER(name: str) -> tuple:
    order = ["H", "W", "T", "B", "G", "b", "P", "L", "M_w", "h", "w", "R", "a", "n"]
    return (order.index(name) if name in order else len(order), name)


def check_one_meaning() -> None:
    """Raise ValueError if a report symbol prints like a package symbol with another meaning."""
    from symbolic.core import symbols as package

    printed = {sp.latex(info.symbol): info.meaning for info in package.infos()}
    for name, meaning in REPORT_SYMBOLS.items():
        latex = _NAMES[name].latex if name in _NAMES else name
        if latex in printed and printed[latex] != meaning:
            raise ValueError(f"report symbol {latex!r} prints like the package's, which means {printed[latex]!r}")


#: Prose in derivation notes that uses a package symbol for something else: rewritten where the report prints it.
_PROSE_SYMBOLS = ((re.compile(r"\bN x N\b"), "n x n"), (re.compile(r"\bN\s*\u00d7\s*N\b"), "n \u00d7 n"))


def prose(text: str) -> str:
    """A derivation note as the report prints it: ``N x N`` (the package's N is the image count) becomes ``n x n``."""
    for pattern, replacement in _PROSE_SYMBOLS:
        text = pattern.sub(replacement, text)
    return text
