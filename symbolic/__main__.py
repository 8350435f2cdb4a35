"""``python -m symbolic``: the command-line interface."""
from symbolic.cli import main

raise SystemExit(main())
