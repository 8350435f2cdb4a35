"""One module per CLI command (see ``symbolic.cli``)."""
