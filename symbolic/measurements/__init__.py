"""Measured and published figures, and the comparison with them: ``validate`` (a measurement CSV against the
model), ``published`` (figures others published), ``baselines`` (the seed's formula, ComfyUI's estimators).
"""
