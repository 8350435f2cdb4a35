"""Pipelines: an ordered list of stages, each with the weights resident and the activation terms live at its peak."""
