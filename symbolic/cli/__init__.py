"""Command-line interface: ``python -m symbolic COMMAND ...`` (``main``), one module per command with ``NAME``,
``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``; ``arguments`` holds the shared argument types.
"""
