"""The core: symbols, algebra, memory terms and their one binder, argument checks, units, dtypes, and the one
path from SymPy expressions to numbers (``core.evaluate``). Knows nothing of any particular pipeline.
"""
