"""Issue 10 (hardening): ``plan`` and ``validate_rows`` refuse bad arguments with a ValueError naming them, budgets are
parsed exactly, integers are plain ASCII integers, and ``fit`` honours ``--batch``, refuses what it cannot use, never
shows a traceback and says where its search stopped. Property tests (hypothesis) feed arbitrary text to the parsers."""
from __future__ import annotations

import csv
import io
import json
import string

import pytest

from helpers import cli, one_line_error  # noqa: E402
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbolic import plan, validate_rows
from symbolic.analysis.planning import MAX_BATCH, MAX_SIZE, max_square_size
from symbolic.core.units import GiB, TiB, format_bytes, parse_size
from symbolic.measurements.validate import read_rows
from symbolic.measurements.table import REQUIRED_INPUT_COLUMNS
from symbolic.core.checks import parse_int, parse_number


GOOD = {"task": "img2img", "attention": "sdpa", "sdpa_backend": "default", "memory_option": "none", "dtype": "fp16",
        "height": "512", "width": "512", "num_images_per_prompt": "1", "guidance_scale": "5.0", "prompt_tokens": "77"}






# --- plan and validate_rows: ValueError naming the argument --------------------------------------------------------

@pytest.mark.parametrize("budget", [True, False, float("inf"), float("-inf"), float("nan"), 10**30, 10**400, 0, -1,
                                    12.5, "24GiB", None, [1]])
def test_plan_budget_refused_naming_it(budget):
    with pytest.raises(ValueError, match=r"^budget: "):
        plan(budget, model="sd15")


def test_plan_zero_refuses_instead_of_no_size():
    with pytest.raises(ValueError, match="budget: must be at least one byte"):
        plan(0, model="sd15")
    assert plan(1, model="sd15")["max_square_size"] is None  # one byte is a budget; nothing fits in it


@pytest.mark.parametrize("kwargs, name", [
    ({"sizes": None}, "sizes"), ({"sizes": [0]}, "sizes"), ({"sizes": ["512"]}, "sizes"),
    ({"num_images_per_prompt": 0}, "num_images_per_prompt"), ({"criterion": "x"}, "criterion"),
    ({"guidance_scale": float("inf")}, "guidance_scale"), ({"bogus": 1}, "bogus"),
])
def test_plan_other_arguments_refused_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name}: "):
        plan(24 * GiB, model="sd15", **kwargs)


def test_plan_largest_budget_answers_and_flags_the_search_limits():
    result = plan(2**64, model="sd15")
    assert result["max_square_size"] == MAX_SIZE and result["max_square_size_at_search_limit"] is True
    assert set(result["max_batch_at_search_limit"]) == set(result["max_batch"])
    assert result["search_limits"] == {"size": MAX_SIZE, "batch": MAX_BATCH}
    assert max_square_size(24 * GiB * 1.0, model="sd15")["size"] == plan(24 * GiB, model="sd15")["max_square_size"]  # integral floats still read


@pytest.mark.parametrize("rows", [None, 5, "rows.csv", b"x", {"height": "512"}, [None], [["512"]]])
def test_validate_rows_refuses_naming_rows(rows):
    with pytest.raises(ValueError, match=r"^rows: "):
        validate_rows(rows)


def test_validate_rows_non_text_cells():
    with pytest.raises(ValueError, match="row 2: column 'memory_option'"):
        validate_rows([dict(GOOD, memory_option=5)])
    with pytest.raises(ValueError, match="row 2: column 'height'"):
        validate_rows([dict(GOOD, height=512.0)])
    assert validate_rows([dict(GOOD, height=512)])[0].inputs["height"] == 512  # an int is an integer


def test_guidance_inf_refused_by_the_api_as_by_the_cli():
    from symbolic.pipelines.api import estimate_sd15

    with pytest.raises(ValueError, match="guidance_scale"):
        estimate_sd15(guidance_scale=float("inf"))


# --- budgets exact, integers plain ---------------------------------------------------------------------------------

def test_parse_size_is_exact():
    digits = "1234567890123456789012345678901"
    assert len(digits) == 31 and parse_size(digits) == int(digits)
    assert parse_size("9" * 400) == int("9" * 400)
    assert parse_size("1.5KiB") == 1536 and parse_size("12GiB") == 12 * GiB and parse_size(" 24 GB ") == 24 * 10**9
    assert parse_size("0.1TiB") == TiB // 10  # floor of the exact value, not of a float
    assert parse_size("1000000000TiB") == 10**9 * TiB


@pytest.mark.parametrize("text", ["5_12", "\u0665\u0661\u0662", "1e9", "-1", "", "inf", "nan", "12XB", "0.5", "0",
                                  "1" * 5000, "12\u00a0GiB", "\uff11\uff12GiB"])
def test_parse_size_refuses_naming_the_argument(text):
    with pytest.raises(ValueError, match=r"^--gpu-memory: "):
        parse_size(text, argument="--gpu-memory")


def test_format_bytes_huge():
    assert "e+" in format_bytes(10**400) and format_bytes(3 * GiB) == "3.00 GiB"


@pytest.mark.parametrize("text, value", [("512", 512), (" 512\n", 512), ("-1", -1), ("+7", 7), (12, 12)])
def test_parse_int_plain_integers(text, value):
    assert parse_int(text, "x") == value


@pytest.mark.parametrize("text", ["512.0", "512.5", "5_12", "\u0665\u0661\u0662", "1e3", "", " ", "0x10", "\u00a0512",
                                  True, None, 512.0, "9" * 5000])
def test_parse_int_refuses_naming_the_argument(text):
    with pytest.raises(ValueError, match=r"^--batch: "):
        parse_int(text, "--batch")


# --- fit -------------------------------------------------------------------------------------------------------------

def test_fit_answers_for_the_batch_asked(capsys):
    one = json.loads(cli(capsys, "fit", "sd15", "--gpu-memory", "24GiB", "--json")[1])
    code, out, err = cli(capsys, "fit", "sd15", "--gpu-memory", "24GiB", "--batch", "4", "--json")
    four = json.loads(out)
    assert code == 0 and not err
    assert four["num_images_per_prompt"] == 4
    expected = max_square_size(24 * GiB, num_images_per_prompt=4, model="sd15")["size"]
    assert four["max_square_size"] == expected < one["max_square_size"]
    _, text, _ = cli(capsys, "fit", "sd15", "--gpu-memory", "24GiB", "--batch", "4")
    assert f"at batch 4: {expected} x {expected}" in text


@pytest.mark.parametrize("batch", ["0", "-1"])
def test_fit_batch_below_one_exit_2(capsys, batch):
    line = one_line_error(*cli(capsys, "fit", "sd15", "--gpu-memory", "24GiB", "--batch", batch)[::2])
    assert "--batch" in line


@pytest.mark.parametrize("size", ["9" * 400, "1000000000TiB", "18446744073709551617", "1" * 5000])
def test_fit_huge_budget_one_line(capsys, size):
    code, out, err = cli(capsys, "fit", "sd15", "--gpu-memory", size)
    line = one_line_error(code, err)
    assert "--gpu-memory" in line and len(line) < 300 and out == ""


def test_fit_says_when_it_stops_at_the_search_limits(capsys):
    code, out, err = cli(capsys, "fit", "sd15", "--gpu-memory", str(2**64))
    assert code == 0 and not err
    assert f"{MAX_SIZE} x {MAX_SIZE} (the search limit" in out
    assert out.count(f"{MAX_BATCH} (the search limit") == 5
    _, out, _ = cli(capsys, "fit", "sd15", "--gpu-memory", "24GiB")
    assert "search limit" not in out


# --- property tests: arbitrary text gives a value or a ValueError naming the argument -------------------------------

TEXT = st.one_of(st.text(), st.text(alphabet=string.digits + ".-+_eE kKMGTiIBb\t\n"),
                 st.from_regex(r"\A[0-9]{1,40}(\.[0-9]{1,5})?[KMGT]?i?B?\Z"))


@given(TEXT)
@settings(max_examples=300, deadline=None)
def test_property_parse_size(text):
    try:
        value = parse_size(text, argument="--gpu-memory")
    except ValueError as exc:
        assert str(exc).startswith("--gpu-memory: ")
    else:
        assert isinstance(value, int) and value >= 1


@given(TEXT)
@settings(max_examples=300, deadline=None)
def test_property_parse_int_and_number(text):
    try:
        value = parse_int(text, "--batch")
    except ValueError as exc:
        assert str(exc).startswith("--batch: ")
    else:
        assert isinstance(value, int) and value == int(text.strip(" \t\r\n"))
    try:
        number = parse_number(text, "--guidance-scale")
    except ValueError as exc:
        assert str(exc).startswith("--guidance-scale: ")
    else:
        assert number == number and abs(number) != float("inf")


CELL = st.one_of(st.text(max_size=12), st.sampled_from(["512", "8", "1", "0", "-8", "512.0", "5_12", "inf", "nan",
                                                        "\u0665", "9" * 30, "7.5", "img2img", "fp32", ""]))


@given(column=st.sampled_from(REQUIRED_INPUT_COLUMNS + ("peak_allocated_bytes",)), cell=CELL,
       prefix=st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff"]))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_property_validate_csv_reader(tmp_path, column, cell, prefix):
    header = list(REQUIRED_INPUT_COLUMNS) + ["peak_allocated_bytes"]
    row = dict(GOOD, peak_allocated_bytes="3458072064")
    row[column] = cell
    path = tmp_path / "property.csv"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header)
    writer.writeheader()
    writer.writerow(row)
    path.write_bytes(prefix + buffer.getvalue().encode("utf-8", "surrogatepass"))
    try:
        results = validate_rows(read_rows(path))
    except ValueError as exc:
        message = str(exc)
        assert message.startswith("FILE: ") or message.startswith("row 2: "), message
        if message.startswith("row 2: ") and "missing" not in message and column in ("height", "width",
                                                                                      "guidance_scale"):
            assert repr(column) in message or column in message
    else:
        assert len(results) == 1
