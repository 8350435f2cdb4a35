"""The notebook's figures: where they go, matplotlib set up for byte-identical PNGs, and saving one as a ``Figure``."""
from __future__ import annotations

import os
from pathlib import Path

from symbolic.report.build import FIGURES_ENV, REPO_ROOT
from symbolic.report.display import Figure


def figures_dir() -> Path:
    path = Path(os.environ.get(FIGURES_ENV) or REPO_ROOT / "report" / "figures")
    path.mkdir(parents=True, exist_ok=True)
    return path


def setup_matplotlib():
    """Agg backend and fixed rcParams, so that the same data give the same PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcdefaults()
    matplotlib.rcParams.update({
        "font.family": "DejaVu Sans", "font.size": 9, "figure.dpi": 100, "savefig.dpi": 130,
        "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False,
        "legend.fontsize": 8, "legend.frameon": False, "svg.hashsalt": "symbolic", "path.simplify": False,
        "axes.prop_cycle": matplotlib.cycler(color=["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                                    "#8c564b", "#e377c2", "#7f7f7f", "#17becf", "#bcbd22"]),
    })
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, name: str, alt: str) -> Figure:
    """Save ``fig`` as figures/<name>.png with no varying metadata, close it, and return its display object."""
    import matplotlib.pyplot as plt

    path = figures_dir() / f"{name}.png"
    fig.savefig(path, format="png", metadata={"Software": None}, bbox_inches="tight", pad_inches=0.05)
    plt.close(fig)
    return Figure(path, alt)
