"""Predict every row of a measurement CSV and compare with the measured columns where present.

Every row goes through the generic pipeline path (``symbolic.pipelines.api``): ``model`` a bundled id, Hub id or
folder (``sd15`` where the column is absent or empty, as in ``data/measurements/sd15_h100.csv``), ``frames`` where the
pipeline makes videos, ``dtype`` ``default`` for the catalog's per-component dtypes, ``memory_option`` switches joined
by ``+``, and ``prompt_tokens`` read by the pipelines whose prompt length can matter (SD 1.x / 2.x / XL).

Speed (issue 10): a table is handled column by column, never with per-row Python work that grows with the model.
Cells in their plain form (``512``, ``7.5``, ``img2img``) are checked for a whole column with one regular-expression
pass and converted with ``int`` / ``float`` (any other cell sends the table through the row-by-row parser, which reads
the same grammar and names the first bad row); rows are grouped by configuration (one closed form each, built once);
each group's symbol values are checked as arrays (``_group_values``) and every output is evaluated over the group's
arrays (``symbolic.core.evaluate.columns``: float64 where exact, the exact path elsewhere); relative errors and the summary are array
operations; a row's dicts (``RowResult.inputs``, ``.estimate``, ``.measured``, ``.errors``) are built when read.
"""
from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import repeat
from pathlib import Path

from symbolic.core.checks import MAX_COUNT, failing_points, guidance_copies, parse_int, parse_number, positive_int
from symbolic.measurements.table import MODEL_OF_UNNAMED_ROWS, REQUIRED_INPUT_COLUMNS, STAGE_COLUMNS, STAGES

#: Measured column -> predicted key, for the whole-run quantities.
TOTALS = {"peak_allocated_bytes": "peak_allocated_bytes", "peak_reserved_bytes": "peak_reserved_bytes",
          "driver_used_bytes": "nvidia_smi_bytes"}
#: The accuracy bars the project holds itself to (issue 3): |relative error| per row.
TOLERANCE = {"peak_allocated_bytes": 0.05, "stages": 0.05, "peak_reserved_bytes": 0.15, "driver_used_bytes": 0.15}
MEDIAN_TOLERANCE = {"peak_allocated_bytes": 0.02}
TEXT_COLUMNS = ("task", "attention", "sdpa_backend", "memory_option", "dtype")
#: Integer input columns: counts, read as the CLI reads its counts (``parse_int``, 1 to ``MAX_COUNT``).
COUNT_COLUMNS = ("height", "width", "num_images_per_prompt", "prompt_tokens")
#: The keys of ``RowResult.inputs``, in order.
INPUT_KEYS = ("model", "frames", "task", "attention", "sdpa_backend", "memory_option", "dtype", "height", "width",
              "num_images_per_prompt", "guidance_scale", "prompt_tokens")
#: The inputs that make a configuration (one closed form); the others are symbol values.
CONFIG_INPUTS = ("model", "task", "attention", "sdpa_backend", "memory_option", "dtype")
#: ``estimate``'s argument -> the CSV column a message about it names.
COLUMN_OF = {"model": "model", "task": "task", "attention": "attention", "attention_backend": "sdpa_backend",
             "memory_options": "memory_option", "dtype": "dtype", "height": "height", "width": "width",
             "batch": "num_images_per_prompt", "frames": "frames", "guidance_scale": "guidance_scale",
             "prompt_tokens": "prompt_tokens"}
#: The name ``read_rows`` gives standard input (``-``) in its messages.
STDIN = "-"


def _count(cell: object, column: str, line: int) -> int:
    """A count cell (size, batch, frames, tokens, measured bytes): a plain ASCII integer (``512``; not ``512.5``,
    ``512.0``, ``5_12`` or non-ASCII digits) from 1 to ``MAX_COUNT`` (2**53), the grammar and limit of the CLI's
    counts."""
    argument = f"row {line}: column {column!r}"
    return positive_int(parse_int(cell, argument), argument, MAX_COUNT)


def parse_inputs(row: Mapping, line: int) -> dict:
    """One row's inputs (the row-by-row parser: every message names the row and the column)."""
    missing = [c for c in REQUIRED_INPUT_COLUMNS if c not in row or row[c] in (None, "")]
    if missing:
        raise ValueError(f"row {line}: missing input column(s): {', '.join(missing)}")
    for column in TEXT_COLUMNS:
        if not isinstance(row[column], str):
            raise ValueError(f"row {line}: column {column!r} must be text, got {row[column]!r}")
    guidance = parse_number(row["guidance_scale"], f"row {line}: column 'guidance_scale'")
    model = row.get("model") or MODEL_OF_UNNAMED_ROWS
    if not isinstance(model, str):
        raise ValueError(f"row {line}: column 'model' must be text, got {model!r}")
    frames = _count(row["frames"], "frames", line) if row.get("frames") not in (None, "") else None
    return {"model": model, "frames": frames, "task": row["task"], "attention": row["attention"],
            "sdpa_backend": row["sdpa_backend"], "memory_option": row["memory_option"], "dtype": row["dtype"],
            "height": _count(row["height"], "height", line), "width": _count(row["width"], "width", line),
            "num_images_per_prompt": _count(row["num_images_per_prompt"], "num_images_per_prompt", line),
            "guidance_scale": guidance, "prompt_tokens": _count(row["prompt_tokens"], "prompt_tokens", line)}


# --- whole columns at once -----------------------------------------------------------------------------------------

#: A count in its plain form: no sign, blanks or leading zero, at most 16 digits (``MAX_COUNT`` has 16).
_PLAIN_COUNT = r"[1-9][0-9]{0,15}"
#: A guidance scale in its plain form (short enough to be finite).
_PLAIN_DECIMAL = r"[0-9]{1,20}(?:\.[0-9]{1,20})?"


@lru_cache(maxsize=None)
def _column_pattern(cell: str) -> re.Pattern:
    return re.compile(f"(?:{cell}\n)*{cell}", re.ASCII)


def _plain(cells: list, cell_pattern: str) -> bool:
    """Whether every cell is a ``str`` in ``cell_pattern``: one regular-expression pass over the column joined with
    newlines (a cell holding a newline itself shows up as one newline too many)."""
    if not cells:
        return True
    try:
        joined = "\n".join(cells)
    except TypeError:  # a cell that is not text: the row-by-row parser names it
        return False
    return joined.count("\n") == len(cells) - 1 and _column_pattern(cell_pattern).fullmatch(joined) is not None


def _counts(cells: list) -> list[int] | None:
    """The column's counts if every cell is in the plain form and at most ``MAX_COUNT``, else None."""
    if not _plain(cells, _PLAIN_COUNT):
        return None
    values = list(map(int, cells))
    return values if not values or max(values) <= MAX_COUNT else None


def _text(cells: list) -> bool:
    """Whether every cell is non-empty text."""
    try:
        "".join(cells)
    except TypeError:
        return False
    return "" not in cells


def _parse_columns(rows: list[Mapping]) -> dict[str, list] | None:
    """The inputs of every row as columns (``INPUT_KEYS`` -> one value per row), when every cell is in its plain form;
    None otherwise (the row-by-row parser then reads the same grammar and names the first bad row)."""
    columns: dict[str, list] = {}
    for column in TEXT_COLUMNS:
        cells = [row.get(column) for row in rows]
        if not _text(cells):
            return None
        columns[column] = cells
    models = [row.get("model") or MODEL_OF_UNNAMED_ROWS for row in rows]
    if not _text(models):
        return None
    columns["model"] = models
    for column in COUNT_COLUMNS:
        values = _counts([row.get(column) for row in rows])
        if values is None:
            return None
        columns[column] = values
    cells = [row.get("guidance_scale") for row in rows]
    if not _plain(cells, _PLAIN_DECIMAL):
        return None
    columns["guidance_scale"] = list(map(float, cells))
    cells = [row.get("frames") for row in rows]
    given = [i for i, cell in enumerate(cells) if cell not in (None, "")]
    frames: list = [None] * len(rows)
    if given:
        values = _counts([cells[i] for i in given])
        if values is None:
            return None
        for i, value in zip(given, values):
            frames[i] = value
    columns["frames"] = frames
    return columns


def _input_columns(rows: list[Mapping], lines: list[int]) -> dict[str, list]:
    columns = _parse_columns(rows)
    if columns is None:
        parsed = [parse_inputs(row, line) for line, row in zip(lines, rows)]
        columns = {key: [inputs[key] for inputs in parsed] for key in INPUT_KEYS}
    return columns


# --- configurations and symbol values ------------------------------------------------------------------------------

def _options(memory_option: str) -> tuple[str, ...]:
    return tuple(o for o in memory_option.split("+") if o and o != "none")


@lru_cache(maxsize=None)
def config_of(key: tuple):
    """The configuration of rows whose ``CONFIG_INPUTS`` are ``key`` (built once per distinct key)."""
    from symbolic.pipelines.api import make_config

    model, task, attention, sdpa_backend, memory_option, dtype = key
    return make_config(model, None if dtype == "default" else dtype, _options(memory_option), None, sdpa_backend,
                       None, task, attention)


def _key(inputs: Mapping) -> tuple:
    return tuple(inputs.get(name) or MODEL_OF_UNNAMED_ROWS if name == "model" else inputs[name] for name in CONFIG_INPUTS)


def _values_of(config, inputs: Mapping) -> dict[str, int]:
    """``values_of`` for one row: ``prompt_tokens`` is read where the pipeline's prompt length can matter (the
    others pad or truncate to a fixed length, and their rows carry the column all the same)."""
    from symbolic.pipelines.api import values_of

    tokens = inputs["prompt_tokens"] if config.spec.chunked_prompts else None
    return values_of(config, inputs.get("frames"), inputs["height"], inputs["width"], inputs["num_images_per_prompt"],
                     inputs["guidance_scale"], 1, tokens)


def configure(inputs: Mapping):
    """(configuration, symbol values) of one row: the single-point API's own validation, without evaluating."""
    config = config_of(_key(inputs))
    return config, _values_of(config, inputs)


def predict(inputs: Mapping) -> dict:
    """The API's estimate for one row (one point, exact): the one-row path."""
    from symbolic.pipelines.api import evaluate

    config, values = configure(inputs)
    return evaluate(config, values)


def _row_error(exc: ValueError, line: int) -> ValueError:
    """``exc`` for row ``line``, naming the CSV column where the API named its argument (``batch`` is
    ``num_images_per_prompt``)."""
    argument, sep, rest = str(exc).partition(": ")
    if sep and argument in COLUMN_OF:
        return ValueError(f"row {line}: column {COLUMN_OF[argument]!r}: {rest}")
    return ValueError(f"row {line}: {exc}")


class _Refused(Exception):
    """A row refused (``index`` in the table, the ValueError the one-row path raises)."""

    def __init__(self, index: int, error: ValueError):
        super().__init__(index, error)
        self.index, self.error = index, error


#: ``values_of``'s symbols that vary per row -> the input each comes from (G comes from ``guidance_copies``).
PER_ROW_SYMBOLS = {"H": "height", "W": "width", "B": "num_images_per_prompt", "T": "frames", "L": "prompt_tokens"}
#: ``values_of``'s symbols that are the same on every row of a configuration (devices: validate rows run on one).
CONSTANT_SYMBOLS = ("P", "b")


def _arrays(columns: Mapping[str, list], parsed: bool = False):
    """The numeric inputs as arrays (counts int64, frames int64 with a mask of the rows that give them, guidance
    float64). ``parsed``: the columns come from the parsers (counts are ints from 1 to ``MAX_COUNT``, guidance
    floats). Otherwise None when some value is not a plain int / float (``predict_all``'s callers may pass anything:
    the rows then go through ``values_of`` one by one)."""
    import numpy as np

    def fits(value) -> bool:
        return type(value) is int and -MAX_COUNT <= value <= MAX_COUNT

    arrays = {}
    for column in COUNT_COLUMNS:
        values = columns[column]
        if not parsed and not all(map(fits, values)):
            return None
        arrays[column] = np.array(values, dtype=np.int64)
    frames = columns["frames"]
    if not parsed and not all(f is None or fits(f) for f in frames):
        return None
    arrays["has_frames"] = np.array([f is not None for f in frames], dtype=bool)
    arrays["frames"] = np.array([f or 0 for f in frames], dtype=np.int64)
    guidance = columns["guidance_scale"]
    if not parsed and not all(type(g) in (int, float) for g in guidance):
        return None
    arrays["guidance_scale"] = np.array(guidance, dtype=np.float64)
    return arrays


def _row(columns: Mapping[str, list], i: int) -> dict:
    return {key: columns[key][i] for key in INPUT_KEYS}


def _group_values(config, columns: Mapping[str, list], arrays, rows):
    """The symbol values of the rows ``rows`` (indices, one configuration) as int64 arrays: what ``values_of`` gives
    row by row, or ``_Refused`` for the first row it refuses.

    ``values_of`` itself runs on the group's first row (the configuration-wide checks and the constants P and b), on
    its first row without frames (the pipeline's default frames) and on every row the array tests below flag. Those
    tests are ``values_of``'s per-row rules (counts from 1 to ``MAX_COUNT``, guidance finite and >= 0, frames only
    for videos, and ``SIZE_RULES``, the API's own table): a row they pass, ``values_of`` passes, and
    every refusal carries ``values_of``'s own message. ``tests/measurements/test_validate_columns.py`` holds the two paths to the
    same answers on random rows, good and bad. Where the arrays are missing or ``values_of`` returns a symbol this
    function does not know, every row goes through ``values_of``."""
    import numpy as np

    from symbolic.pipelines.api import SIZE_RULES, size_facts

    checked = [int(rows[0])]
    if arrays is not None:
        spec = config.spec
        take = {name: array[rows] for name, array in arrays.items()}
        bad = np.zeros(len(rows), dtype=bool)
        counts = ["height", "width", "num_images_per_prompt"] + (["prompt_tokens"] if spec.chunked_prompts else [])
        for column in counts:
            bad |= (take[column] < 1) | (take[column] > MAX_COUNT)
        guidance = take["guidance_scale"]
        bad |= ~np.isfinite(guidance) | ~(guidance >= 0)
        if spec.video:
            bad |= take["has_frames"] & ((take["frames"] < 1) | (take["frames"] > MAX_COUNT))
            defaulted = np.flatnonzero(~take["has_frames"])
            if len(defaulted):
                checked.append(int(rows[defaulted[0]]))
        else:
            bad |= take["has_frames"]
        bad |= failing_points(SIZE_RULES, size_facts(config), take)
        checked.extend(rows[np.flatnonzero(bad)].tolist())
    else:
        checked = rows.tolist()
    found = {}
    for i in sorted(set(checked)):
        try:
            found[i] = _values_of(config, _row(columns, i))
        except ValueError as exc:
            raise _Refused(i, exc) from None
    first = found[int(rows[0])]
    if arrays is None or set(first) - set(PER_ROW_SYMBOLS) - set(CONSTANT_SYMBOLS) - {"G"}:
        if arrays is not None:  # a symbol this function does not know: every row through values_of
            return _group_values(config, columns, None, rows)
        return {name: np.array([found[i][name] for i in rows.tolist()], dtype=np.int64) for name in first}
    values = {}
    for name, value in first.items():
        if name == "G":
            unique, inverse = np.unique(take["guidance_scale"], return_inverse=True)
            values[name] = np.array([guidance_copies(float(g)) for g in unique], dtype=np.int64)[inverse]
        elif name == "T":
            default = next((found[i]["T"] for i in checked[1:2] if not arrays["has_frames"][i]), value)
            values[name] = np.where(take["has_frames"], take["frames"], default)
        elif name in PER_ROW_SYMBOLS:
            values[name] = take[PER_ROW_SYMBOLS[name]]
        else:
            values[name] = np.full(len(rows), value, dtype=np.int64)
    return values


@dataclass
class _Group:
    """The rows of one configuration and their outputs (output name -> one exact int per row of the group)."""

    config: object
    entry: dict
    rows: object
    outputs: dict


def _predict_groups(columns: Mapping[str, list], lines: list[int], arrays=None):
    """Every row's outputs, evaluated one configuration at a time over arrays: (groups, group of each row, position
    of each row in its group). The first row (in table order) the one-row path refuses raises its ValueError."""
    import numpy as np

    from symbolic.core.evaluate.columns import evaluate_columns
    from symbolic.pipelines.model import model_of_config
    from symbolic.core.evaluate.runtime import ceil_int
    from symbolic.pipelines.api import cached_entry

    n = len(lines)
    index: dict[tuple, int] = {}
    group_of = np.fromiter((index.setdefault(key, len(index)) for key in zip(*(columns[c] for c in CONFIG_INPUTS))),
                           dtype=np.int64, count=n)
    order = np.argsort(group_of, kind="stable")
    bounds = np.searchsorted(group_of[order], np.arange(len(index) + 1))
    position = np.empty(n, dtype=np.int64)
    if arrays is None:
        arrays = _arrays(columns)
    groups, refused = [], []
    for g, key in enumerate(index):
        rows = order[bounds[g]:bounds[g + 1]]
        position[rows] = np.arange(len(rows))
        try:
            config = config_of(key)
        except ValueError as exc:
            refused.append(_Refused(int(rows[0]), exc))
            continue
        try:
            values = _group_values(config, columns, arrays, rows)
        except _Refused as exc:
            refused.append(exc)
            continue
        entry, exact = cached_entry(config)
        outputs = evaluate_columns(values, entry["args"], exact, lambda: model_of_config(config).outputs(), ceil_int)
        groups.append(_Group(config, entry, rows, outputs))
    if refused:
        first = min(refused, key=lambda r: r.index)
        raise _row_error(first.error, lines[first.index])
    group_of[:] = 0
    for g, group in enumerate(groups):
        group_of[group.rows] = g
    return groups, group_of, position


def _estimate(group: _Group, pos: int) -> dict:
    from symbolic.pipelines.api import shape

    return shape(group.config, group.entry, {name: column[pos] for name, column in group.outputs.items()})


def predict_all(rows: list[tuple[int, dict]]) -> list[dict]:
    """The estimates of many rows ((line, inputs) pairs): rows of one configuration are evaluated together over
    arrays, exactly the values ``predict`` gives one by one (a refused row raises ``predict``'s message, naming the
    row and the column)."""
    if not rows:
        return []
    lines = [line for line, _ in rows]
    columns = {key: [inputs.get(key) for _, inputs in rows] for key in INPUT_KEYS}
    columns["model"] = [m or MODEL_OF_UNNAMED_ROWS for m in columns["model"]]
    groups, group_of, position = _predict_groups(columns, lines)
    return [_estimate(groups[g], p) for g, p in zip(group_of.tolist(), position.tolist())]


# --- results -------------------------------------------------------------------------------------------------------

#: The measured columns compared, in the order a row's ``measured`` and ``errors`` list them.
COMPARED_COLUMNS = tuple(TOTALS) + tuple(STAGE_COLUMNS[stage] for stage in STAGES)


def _output_of(column: str) -> str:
    """The output (``PipelineModel.outputs`` name) a measured column is compared with."""
    return TOTALS[column] if column in TOTALS else f"stage:{column.removeprefix('stage_').removesuffix('_peak')}"


class _Table:
    """One ``validate_rows`` call's results as columns; ``RowResult`` reads a row from it."""

    def __init__(self, columns, arrays, lines, groups, group_of, position):
        self.columns, self.arrays, self.lines, self.groups = columns, arrays, lines, groups
        self.group_of, self.position = group_of.tolist(), position.tolist()
        self.positions = position
        #: measured column -> int64 array (0 where the row does not compare it), float64 relative errors (NaN there).
        self.measured: dict = {}
        self.errors: dict = {}
        #: baseline name (``symbolic.measurements.baselines.BASELINES``: seed, comfyui) -> float64 bytes / relative errors, NaN
        #: where the row has no measured peak or the baseline no estimate.
        self.baseline_bytes: dict = {}
        self.baseline_errors: dict = {}


class RowResult:
    """One row's inputs, estimate, measured columns, relative errors and the seed formula's baseline (SD 1.5 rows
    with a measured peak), each built from the table's columns when first read."""

    __slots__ = ("_table", "_index", "__dict__")

    def __init__(self, table: _Table, index: int):
        self._table, self._index = table, index

    @cached_property
    def inputs(self) -> dict:
        return _row(self._table.columns, self._index)

    @cached_property
    def estimate(self) -> dict:
        table, i = self._table, self._index
        return _estimate(table.groups[table.group_of[i]], table.position[i])

    @cached_property
    def measured(self) -> dict:
        table, i = self._table, self._index
        return {c: int(v[i]) for c, v in table.measured.items() if v[i]}

    @cached_property
    def errors(self) -> dict:
        table, i = self._table, self._index
        return {c: float(table.errors[c][i]) for c, v in table.measured.items() if v[i]}

    @property
    def baselines(self) -> dict[str, int | None]:
        """Each baseline's predicted peak allocated bytes (None where it has none)."""
        return {name: _optional(values[self._index], int) for name, values in self._table.baseline_bytes.items()}

    @property
    def baseline_errors(self) -> dict[str, float | None]:
        """Each baseline's relative error against the measured peak allocated bytes."""
        return {name: _optional(values[self._index], float) for name, values in self._table.baseline_errors.items()}

    @property
    def baseline_bytes(self) -> float | None:
        """The seed formula's bytes (SD 1.5 rows)."""
        return self.baselines.get("seed")

    @property
    def baseline_error(self) -> float | None:
        return self.baseline_errors.get("seed")

    def __repr__(self) -> str:
        return f"RowResult(line {self._table.lines[self._index]}, inputs={self.inputs})"


def _measure(table: _Table, rows: list[Mapping]) -> None:
    """Parse the measured columns (the cells a row's estimate can be compared with) and their relative errors,
    ``estimate / measured - 1`` (float64 division of integers below 2**53 is the correctly rounded quotient, as
    Python's ``int / int``; larger estimates are divided in Python)."""
    import numpy as np

    n = len(rows)
    refused = []
    for order, column in enumerate(COMPARED_COLUMNS):
        if not any(map(dict.__contains__, rows, repeat(column))):  # rows are dicts (validate_rows checks)
            continue
        cells = [row.get(column) for row in rows]
        if all(type(cell) is str and cell for cell in cells):
            given = list(range(n))
        else:
            given = [i for i, cell in enumerate(cells) if cell not in (None, "")]
        output = _output_of(column)
        compared = {g for g, group in enumerate(table.groups) if output in group.outputs}
        if len(compared) < len(table.groups):
            given = [i for i in given if table.group_of[i] in compared]
        if not given:
            continue
        values = _counts([cells[i] for i in given])
        if values is None:
            values = []
            for i in given:
                try:
                    values.append(_count(cells[i], column, table.lines[i]))
                except ValueError as exc:
                    refused.append((i, order, exc))
                    break
            if len(values) < len(given):
                continue
        measured = np.zeros(n, dtype=np.int64)
        measured[given] = values
        errors = np.full(n, np.nan)
        for g in compared:
            group = table.groups[g]
            estimate = group.outputs[output]
            members = group.rows[measured[group.rows] != 0]
            positions = table.positions[members]
            floats = np.array([estimate[p] if abs(estimate[p]) < 2**53 else np.nan for p in positions.tolist()])
            errors[members] = floats / measured[members] - 1
            for i, p in zip(members.tolist(), positions.tolist()):
                if abs(estimate[p]) >= 2**53:
                    errors[i] = estimate[p] / int(measured[i]) - 1
        table.measured[column], table.errors[column] = measured, errors
    if refused:
        i, _, exc = min(refused, key=lambda r: r[:2])
        raise exc


def _optional(value, kind):
    return None if value != value else kind(value)


def _baselines(table: _Table) -> None:
    """Every baseline's bytes and error (``symbolic.measurements.baselines.baseline_predictions``: the seed's f() on SD 1.5 rows,
    ComfyUI's estimators where it has them) on rows with a measured peak, evaluated once per distinct call, with our
    weights for the call (ComfyUI's total adds its activation estimates to them)."""
    import numpy as np

    from symbolic.measurements.baselines import BASELINES, baseline_predictions

    n = len(table.lines)
    names = [key.removesuffix("_bytes") for key in BASELINES]
    table.baseline_bytes = {name: np.full(n, np.nan) for name in names}
    table.baseline_errors = {name: np.full(n, np.nan) for name in names}
    measured = table.measured.get("peak_allocated_bytes")
    if measured is None:
        return
    rows = np.flatnonzero(measured != 0)
    keys = ("model", "height", "width", "frames", "num_images_per_prompt", "guidance_scale", "dtype", "task",
            "prompt_tokens")
    found: dict[tuple, dict] = {}
    columns = [table.columns[k] for k in keys]
    for i in rows.tolist():
        group = table.groups[table.group_of[i]]
        point = tuple(column[i] for column in columns) + (int(group.outputs["weights_bytes"][table.position[i]]),)
        if point not in found:
            model, height, width, frames, batch, guidance, dtype, task, tokens, weights = point
            tokens = {} if tokens is None else {"prompt_tokens": tokens}
            found[point] = baseline_predictions(model, height=height, width=width, frames=frames, batch=batch,
                                                guidance_scale=guidance, dtype=dtype, task=task,
                                                weights_bytes=weights, **tokens)
        for name in names:
            value = found[point][f"{name}_bytes"]
            if value is not None:
                table.baseline_bytes[name][i] = value
                table.baseline_errors[name][i] = value / measured[i] - 1


def read_rows(path: str | Path) -> list[dict]:
    """The rows of a UTF-8 CSV file (a byte-order mark is allowed), ``-`` for standard input, as dicts of strings.

    Every problem with the file (missing, unreadable, not UTF-8 text, not CSV, empty, lacking an input column, a column
    named twice) raises a ValueError naming the file."""
    if isinstance(path, (str, Path)) and str(path) == STDIN:
        name = "standard input"
        stream = getattr(sys.stdin, "buffer", None)
        try:
            data = stream.read() if stream is not None else sys.stdin.read()
        except OSError as exc:
            raise ValueError(f"FILE: cannot read standard input: {exc.strerror or exc}") from None
    else:
        if not isinstance(path, (str, Path)):
            raise ValueError(f"FILE: must be a path, got {path!r} ({type(path).__name__})")
        path = Path(path)
        name = str(path)
        try:
            if not path.is_file():
                raise ValueError(f"FILE: no such file: {path}")
            data = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"FILE: cannot read {path}: {exc.strerror or exc}") from None
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValueError(f"FILE: {name} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                             "expected a CSV file") from None
    else:
        text = data.removeprefix("\ufeff")
    if "\x00" in text:
        raise ValueError(f"FILE: {name} contains NUL bytes (a binary file?); expected a CSV file")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        if not reader.fieldnames:
            raise ValueError(f"FILE: {name} is empty")
        names = reader.fieldnames
        twice = sorted({c for c in names if c and names.count(c) > 1}, key=names.index)
        if twice:
            raise ValueError(f"FILE: {name}: column(s) named more than once in the header: "
                             f"{', '.join(repr(c) for c in twice)}")
        missing = [c for c in REQUIRED_INPUT_COLUMNS if c not in names]
        if missing:
            raise ValueError(f"FILE: {name} lacks input column(s): {', '.join(missing)}")
        rows = []
        for row in reader:
            if None in row:  # DictReader keeps the cells past the header under None
                raise ValueError(f"FILE: {name}, line {reader.line_num}: {len(row[None])} cell(s) more than the "
                                 f"header's {len(names)} columns")
            rows.append(row)
        return rows
    except csv.Error as exc:
        raise ValueError(f"FILE: {name}, line {reader.line_num}: not valid CSV ({exc})") from None


def validate_rows(rows: list[dict]) -> Results:
    """Predict each row (a dict of CSV strings, as ``read_rows`` gives); compare with the measured columns that are
    present. Bad input raises a ValueError naming ``rows`` or the row and column (the first bad row in table order:
    inputs first, then predictions, then measured cells)."""
    if rows is None or isinstance(rows, (str, bytes, Mapping)) or not hasattr(rows, "__iter__"):
        raise ValueError(f"rows: must be a list of dicts (column -> CSV text), got {type(rows).__name__}")
    rows = list(rows)
    if not all(type(row) is dict for row in rows):
        for line, row in enumerate(rows, start=2):
            if not isinstance(row, Mapping):
                raise ValueError(f"rows: row {line} must be a dict (column -> CSV text), got {type(row).__name__}")
        rows = [dict(row) for row in rows]
    if not rows:
        return Results(None)
    lines = list(range(2, len(rows) + 2))
    columns = _input_columns(rows, lines)
    arrays = _arrays(columns, parsed=True)
    table = _Table(columns, arrays, lines, *_predict_groups(columns, lines, arrays))
    _measure(table, rows)
    _baselines(table)
    return Results(table)


class Results(Sequence):
    """``validate_rows``' answer: one ``RowResult`` per row, made when read (a sequence, like a list)."""

    def __init__(self, table: _Table | None):
        self._table = table

    def __len__(self) -> int:
        return 0 if self._table is None else len(self._table.lines)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        if not -len(self) <= index < len(self):
            raise IndexError("row index out of range")
        return RowResult(self._table, index % len(self))

    def __repr__(self) -> str:
        return f"<{len(self)} validated rows>"


def _absolute_errors(results: list[RowResult]) -> dict[str, object]:
    """Per metric (``TOTALS`` columns, ``stages``, ``seed_formula``): every compared |relative error| of ``results``,
    gathered from their tables' columns."""
    import numpy as np

    by_table: dict[int, tuple[_Table, list[int]]] = {}
    if isinstance(results, Results):  # a whole table: every row, without making a RowResult per row
        if results._table is not None:
            by_table[0] = (results._table, range(len(results)))
    else:
        for result in results:
            by_table.setdefault(id(result._table), (result._table, []))[1].append(result._index)
    gathered: dict[str, list] = {}
    for table, indices in by_table.values():
        index = np.array(indices, dtype=np.int64)
        for column, errors in table.errors.items():
            metric = column if column in TOTALS else "stages"
            picked = errors[index]
            gathered.setdefault(metric, []).append(np.abs(picked[~np.isnan(picked)]))
        for name, errors in table.baseline_errors.items():
            picked = errors[index]
            gathered.setdefault(f"baseline:{name}", []).append(np.abs(picked[~np.isnan(picked)]))
    return {metric: np.concatenate(parts) for metric, parts in gathered.items()}


#: Summary key of each baseline's line (``<key>_peak_allocated``).
BASELINE_SUMMARY = {"seed": "seed_formula", "comfyui": "comfyui"}


def summarize(results: list[RowResult]) -> dict:
    """Per metric: rows compared, median and largest |relative error|, rows within the tolerance."""
    import numpy as np

    errors = _absolute_errors(results)
    summary = {}
    for metric in list(TOTALS) + ["stages"]:
        values = errors.get(metric)
        if values is None or not len(values):
            continue
        tol = TOLERANCE[metric]
        summary[metric] = {"compared": len(values), "median_abs_error": float(np.median(values)),
                           "max_abs_error": float(values.max()), "tolerance": tol,
                           "within_tolerance": int(np.count_nonzero(values <= tol))}
    for metric, values in errors.items():
        if metric.startswith("baseline:") and len(values):
            summary[f"{BASELINE_SUMMARY[metric.removeprefix('baseline:')]}_peak_allocated"] = {
                "compared": len(values), "median_abs_error": float(np.median(values)),
                "max_abs_error": float(values.max())}
    return summary


def passes(summary: dict) -> bool:
    for metric, stats in summary.items():
        if "tolerance" in stats and stats["within_tolerance"] < stats["compared"]:
            return False
        if metric in MEDIAN_TOLERANCE and stats["median_abs_error"] > MEDIAN_TOLERANCE[metric]:
            return False
    return True
