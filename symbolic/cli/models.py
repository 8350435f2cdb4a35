"""``python -m symbolic models``: the bundled pipelines (id, Hub id, pipeline class, parameters per component)."""
from __future__ import annotations

from symbolic.cli.arguments import print_json

NAME = "models"
HELP = "list the bundled pipelines: id, Hub id, pipeline class, parameters per component"


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON array")


def rows() -> list[dict]:
    from symbolic.pipelines import catalog
    from symbolic.pipelines.model import component

    out = []
    for entry in catalog.CATALOG.values():
        source = catalog.load(entry.id)
        params = {role: sum(t.numel for t in component(source, role).tensors) for role in source.roles}
        out.append({"id": entry.id, "hub_id": entry.hub_id, "pipeline": source.spec.class_name,
                    "dtype": entry.dtype, "parameters": params,
                    "classes": {role: type(component(source, role)).__name__ for role in source.roles}})
    return out


def run(args) -> int:
    table = rows()
    if args.json:
        print_json(table)
        return 0
    print(f"{'id':<18}{'Hub id':<44}{'pipeline':<28}parameters (incl. buffers) per component")
    for row in table:
        params = ", ".join(f"{role} {n / 1e9:.3f} B" for role, n in row["parameters"].items())
        print(f"{row['id']:<18}{row['hub_id']:<44}{row['pipeline']:<28}{params}")
    print("\nMeasured on an H100: sd15 (python -m symbolic validate data/measurements/sd15_h100.csv); the others are "
          "derived from their configs and checked against meta-device traces, not yet measured on a GPU.")
    return 0
