"""VAE tiling geometry: the extent tiles cover along one axis (overlaps counted twice)."""
from __future__ import annotations

import sympy as sp

from symbolic.core.algebra import ceil_div


def tiles_extent(size: sp.Expr, tile: int, stride: int) -> sp.Expr:
    """Sum of the tile extents along one axis when ``range(0, size, stride)`` tiles of ``tile`` are cut (each
    interior overlap counted twice): size + (tile - stride) x (number of tiles - 1), the tiles' total area being
    the product over both axes."""
    count = ceil_div(sp.sympify(size), stride)
    return size + (tile - stride) * (count - 1)
