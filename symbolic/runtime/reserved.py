"""The caching allocator's reserved bytes beyond the allocated peak: the one fitted part of the model.

The caching allocator keeps freed blocks reserved (no ``empty_cache`` inside a call), so ``max_memory_reserved``
exceeds the allocated peak by the cached segments no later block could reuse. The VAE decoder makes most of them:
each upsampler quadruples the block sizes, so the segments cached for the smaller blocks before it cannot serve the
larger ones after it. Modelled as a fixed cache (small-pool and denoiser / text-encoder segments) plus a fraction of
the VAE decode's transient (its own terms at its largest moment, without the resident weights and workspace). The two constants are fitted (least squares, 16 rows) to peak_reserved minus the
modelled allocated peak minus the weights' segment slack on ``data/measurements/sd15_h100.csv`` (largest error 7.1%
of peak_reserved), because the packing depends on the order of every allocation in the run. The allocated peak and
the minimum GPU memory (``symbolic.runtime.allocator``) do not depend on them; for pipelines other than SD 1.5 they are an
assumption carried over, not a measurement.
"""
from __future__ import annotations

import sympy as sp

#: Cached segments no later block reuses, besides the decode's: fitted on data/measurements/sd15_h100.csv.
RESERVED_CACHE_BYTES = 235 * 2**20
#: Fraction of the VAE decode's transient left cached in segments too small for the next blocks (same fit).
RESERVED_TRANSIENT_FRACTION = sp.Rational(16, 25)
