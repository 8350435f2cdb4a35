"""Print the README's "Published figures" table: every published memory figure beside our estimate under its
settings (``symbolic.measurements.published.markdown_table``). ``--readme`` writes it between the README's
``published-table`` markers instead; ``tests/measurements/test_published.py`` checks that the README holds exactly this
output."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symbolic.measurements.published import markdown_table  # noqa: E402

START, END = "<!-- published-table:start -->\n", "<!-- published-table:end -->"


def write_readme(path: Path = ROOT / "README.md") -> None:
    text = path.read_text()
    if START not in text or END not in text:
        sys.exit(f"{path}: no published-table markers")
    head, rest = text.split(START, 1)
    path.write_text(head + START + markdown_table() + END + rest.split(END, 1)[1])


if __name__ == "__main__":
    if sys.argv[1:] == ["--readme"]:
        write_readme()
    elif sys.argv[1:]:
        sys.stderr.write("usage: python scripts/published_table.py [--readme]\n")
        sys.exit(2)
    else:
        sys.stdout.write(markdown_table())
