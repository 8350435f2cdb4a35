"""The report's display objects (``Math``, ``Equation``, ``Text``, ``Table``, ``Figure``, ...): each renders as HTML
(math as MathML) and as LaTeX from the same SymPy expression or text; and the number formats its prose uses."""
from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import sympy as sp

from symbolic.report.printing import html_escape, latex_code, latex_escape, latex_text, to_latex, to_mathml


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


def expression_piece(expr) -> tuple[str, str]:
    """A row piece: ``expr`` in LaTeX and MathML."""
    return to_latex(expr), to_mathml(expr)


def operator_piece(latex: str, mathml_text: str) -> tuple[str, str]:
    """A row piece: an operator, ``latex`` in LaTeX and ``<mo>mathml_text</mo>``."""
    return latex, f"<mo>{html_escape(mathml_text)}</mo>"


def _visible(latex: str) -> int:
    """Rough printed width of a LaTeX string in characters (commands and braces dropped)."""
    stripped = re.sub(r"\\(left|right|mathrm|frac|cdot|,|;|quad|qquad|big|Big)", "", latex)
    stripped = re.sub(r"\\[A-Za-z]+", "x", stripped)
    return len(re.sub(r"[{}^_ ]", "", stripped))


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
                return [Row([expression_piece(expr)], self.lhs, relation, annotation)]
            if isinstance(expr, sp.Add):
                parts = list(sp.Add.make_args(expr))
            else:
                return [Row([expression_piece(expr)], self.lhs, relation, annotation)]
        rows, current, used = [], [], 0
        for i, part in enumerate(parts):
            latex = to_latex(part)
            if current and used + _visible(latex) > width:
                rows.append(current)
                current, used = [], 0
            if i:
                current.append(operator_piece("+", "+"))
            current.append((latex, to_mathml(part)))
            used += _visible(latex) + 2
        rows.append(current)
        out = [Row(rows[0], self.lhs, relation, annotation)]
        out += [Row([(r"\quad ", '<mspace width="1em"/>')] + r) for r in rows[1:]]
        return out

    def html(self) -> str:
        return aligned_html(self.rows)

    def latex(self) -> str:
        return aligned_latex(self.rows)

    def text(self) -> str:
        rhs = " + ".join(sp.sstr(t) for t in self.rhs) if isinstance(self.rhs, (list, tuple)) else sp.sstr(self.rhs)
        return f"{sp.sstr(self.lhs)} = {rhs}"


class MaxEquation(Display):
    """``lhs = head + max(arg_1, ..., arg_n)`` with one argument per line, each with an optional annotation."""

    def __init__(self, lhs, args: Sequence, annotations: Sequence[str] = (), head=None, name: str = "max") -> None:
        self.lhs, self.args, self.head = sp.sympify(lhs), [sp.sympify(a) for a in args], head
        annotations = list(annotations) or [""] * len(self.args)
        first = [] if head is None else [expression_piece(head), operator_piece("+", "+")]
        first.append((r"\max\big(", f"<mo>{name}</mo><mo>(</mo>"))
        rows = [Row(first, self.lhs)]
        for i, (arg, note) in enumerate(zip(self.args, annotations)):
            last = i == len(self.args) - 1
            tail = (r"\,\big)", "<mo>)</mo>") if last else (",", "<mo>,</mo>")
            rows.append(Row([(r"\qquad ", '<mspace width="2em"/>'), expression_piece(arg), tail], annotation=note))
        self.rows = rows

    def html(self) -> str:
        return aligned_html(self.rows)

    def latex(self) -> str:
        return aligned_latex(self.rows)

    def text(self) -> str:
        head = f"{sp.sstr(self.head)} + " if self.head is not None else ""
        return f"{sp.sstr(self.lhs)} = {head}Max({', '.join(sp.sstr(a) for a in self.args)})"


def _fit(latex: str) -> str:
    """Display math that shrinks to the line width when wider (adjustbox's ``max width``), never grows."""
    return f"$$ \\adjustbox{{max width=\\linewidth}}{{$\\displaystyle {latex}$}} $$"


def aligned_latex(rows: list[Row]) -> str:
    """The rows as one display formula (aligned at the relation when several, annotations on the right)."""
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


def aligned_html(rows: list[Row]) -> str:
    """The rows as one block ``<math>`` (an ``<mtable>`` when several)."""
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
