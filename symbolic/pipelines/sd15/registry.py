"""The SD 1.5 term registry. Term modules register into it on import; ``model.py`` imports them all."""
from symbolic.terms import TermRegistry

SD15_TERMS = TermRegistry("sd15")
