"""``python -m symbolic``: the command-line interface."""
from symbolic.cli.main import main

raise SystemExit(main())
