"""From SymPy to numbers: ``printers`` (exact Python source and NumPy grids from expressions), ``runtime`` (the
SymPy-free exact runtime that runs printed source), ``numba_loop`` (the optional compiled grid), ``columns`` (many
points of one configuration at once) and ``cache`` (generated source on disk, so a warm call never imports SymPy).
"""
