"""The derivation report: ``build`` executes the notebook and writes ``report/``; ``display`` renders tables and
formulas for it; ``planner`` writes the offline planner page.
"""
