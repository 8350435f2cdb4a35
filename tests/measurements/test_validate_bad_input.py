"""Issue 10 (hardening), ``validate``: cells read with one integer grammar, guidance finite, the same exit status with
``--json`` as in table mode, a BOM, a column named twice, a binary file, and ``-`` for standard input."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import cli, one_line_error  # noqa: E402

from symbolic.measurements.validate import read_rows, validate_rows
from symbolic.measurements.table import REQUIRED_INPUT_COLUMNS


ROOT = Path(__file__).resolve().parents[2]
MEASURED = ROOT / "data" / "measurements" / "sd15_h100.csv"
HEADER = ",".join(REQUIRED_INPUT_COLUMNS)
GOOD = {"task": "img2img", "attention": "sdpa", "sdpa_backend": "default", "memory_option": "none", "dtype": "fp16",
        "height": "512", "width": "512", "num_images_per_prompt": "1", "guidance_scale": "5.0", "prompt_tokens": "77"}


def csv_text(**cells: str) -> str:
    row = dict(GOOD, **cells)
    return f"{HEADER}\n{','.join(row[c] for c in REQUIRED_INPUT_COLUMNS)}\n"






# --- cells: plain integers, finite guidance ------------------------------------------------------------------------

@pytest.mark.parametrize("column", ["height", "width", "num_images_per_prompt", "prompt_tokens"])
@pytest.mark.parametrize("cell", ["512.5", "1.9", "5_12", "\u0665\u0661\u0662", "512.0", "1e3", "0x20",
                                  "\uff15\uff11\uff12"])
def test_non_integer_cells_are_refused_naming_row_and_column(capsys, tmp_path, column, cell):
    path = tmp_path / "cells.csv"
    path.write_text(csv_text(**{column: cell}), encoding="utf-8")
    for argv in ([str(path)], [str(path), "--json"]):
        code, out, err = cli(capsys, "validate", *argv)
        line = one_line_error(code, err)
        assert f"'{column}'" in line and "row 2" in line and out == ""


def test_plain_integers_with_blanks_still_read(capsys, tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text(csv_text(height=" 512", width="+512"))
    code, out, err = cli(capsys, "validate", str(path), "--json")
    assert code == 0 and not err
    assert json.loads(out)["height"] == 512 and json.loads(out)["width"] == 512


@pytest.mark.parametrize("cell", ["inf", "-inf", "Infinity", "nan", "NaN", "1e400", "1_0", "\u0667"])
def test_guidance_must_be_finite(capsys, tmp_path, cell):
    path = tmp_path / "guidance.csv"
    path.write_text(csv_text(guidance_scale=cell), encoding="utf-8")
    code, out, err = cli(capsys, "validate", str(path), "--json")
    line = one_line_error(code, err)
    assert "'guidance_scale'" in line and "row 2" in line
    assert "Infinity" not in out and "NaN" not in out


# --- --json exits as the table does --------------------------------------------------------------------------------

def failing_table(tmp_path: Path) -> Path:
    """The measured table with one row's measured peak halved: the predictions miss it by 100%."""
    with MEASURED.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames, list(reader)
    rows[0]["peak_allocated_bytes"] = str(int(rows[0]["peak_allocated_bytes"]) // 2)
    path = tmp_path / "fail.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_json_exit_status_matches_table_mode(capsys, tmp_path):
    path = failing_table(tmp_path)
    code_table, out, _ = cli(capsys, "validate", str(path))
    assert out.strip().splitlines()[-1].startswith("FAIL") and code_table == 1
    code_json, out, err = cli(capsys, "validate", str(path), "--json")
    assert code_json == code_table == 1 and not err
    assert len(out.splitlines()) > 1  # the records are still written
    # and PASS is 0 in both modes
    assert cli(capsys, "validate", str(MEASURED))[0] == cli(capsys, "validate", str(MEASURED), "--json")[0] == 0


# --- the file: BOM, a column named twice, binary, standard input ---------------------------------------------------

def test_utf8_bom_does_not_hide_the_first_column(capsys, tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_text().encode())
    assert read_rows(path)[0]["task"] == "img2img"
    code, out, err = cli(capsys, "validate", str(path), "--json")
    assert code == 0 and not err and json.loads(out)["task"] == "img2img"


@pytest.mark.parametrize("duplicate", ["height", "peak_allocated_bytes"])
def test_duplicated_column_is_an_error_naming_it(capsys, tmp_path, duplicate):
    path = tmp_path / "twice.csv"
    row = ",".join(GOOD[c] for c in REQUIRED_INPUT_COLUMNS)
    if duplicate == "height":
        path.write_text(f"{HEADER},height\n{row},1024\n")
    else:
        path.write_text(f"{HEADER},peak_allocated_bytes,peak_allocated_bytes\n{row},3458072064,1\n")
    code, _, err = cli(capsys, "validate", str(path))
    line = one_line_error(code, err)
    assert repr(duplicate) in line and str(path) in line


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", b"\xff\xfe\x00t\x00a",
                                     csv_text().encode() + b"\x00\x01", b"task,\xe9t\xe9\n"])
def test_binary_file_is_one_line_naming_the_file(capsys, tmp_path, content):
    path = tmp_path / "binary.csv"
    path.write_bytes(content)
    code, out, err = cli(capsys, "validate", str(path))
    line = one_line_error(code, err)
    assert str(path) in line and out == ""


def test_directory_is_refused(capsys, tmp_path):
    line = one_line_error(*cli(capsys, "validate", str(tmp_path))[::2])
    assert str(tmp_path) in line


def test_dash_reads_standard_input(capsys, monkeypatch):
    data = b"\xef\xbb\xbf" + csv_text().encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, out, err = cli(capsys, "validate", "-", "--json")
    assert code == 0 and not err and json.loads(out)["height"] == 512
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\xff\xfe\x00binary")))
    line = one_line_error(*cli(capsys, "validate", "-")[::2])
    assert "standard input" in line


def test_dash_reads_standard_input_subprocess():
    proc = subprocess.run([sys.executable, "-m", "symbolic", "validate", "-"], cwd=ROOT, input=MEASURED.read_bytes(),
                          capture_output=True, env=dict(os.environ), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().strip().splitlines()[-1].startswith("PASS")


# --- the Python API over the same reader ---------------------------------------------------------------------------

def test_validate_rows_reads_cells_with_the_cli_grammar():
    assert validate_rows([dict(GOOD)])[0].inputs["height"] == 512
    with pytest.raises(ValueError, match="row 2: column 'height'"):
        validate_rows([dict(GOOD, height="512.5")])
    with pytest.raises(ValueError, match="row 3: column 'guidance_scale'"):
        validate_rows([dict(GOOD), dict(GOOD, guidance_scale="inf")])
