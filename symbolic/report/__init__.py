"""The derivation report: ``build`` executes the notebook and writes ``report/``; the notebook prints with
``display`` (tables, equations, text) and ``printing`` (escaping, MathML and LaTeX), takes its symbols from
``glossary``, its closed forms from ``closed_forms``, its distilled equations from ``distilled``, its constants'
``#:`` comments from ``doc_comments``, its cached parallel results from ``jobs`` and saves figures with ``figures``;
``markdown_latex`` converts its prose for the LaTeX export; ``planner`` writes the offline planner page.
"""
