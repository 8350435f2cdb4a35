"""Markdown -> LaTeX for the notebook's prose cells in the LaTeX export (mistune, no pandoc)."""
from __future__ import annotations

from symbolic.report.printing import latex_code, latex_escape


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
