"""validate's bulk path (rows of one configuration evaluated together over arrays) gives exactly the single-point
API's estimates, including where it falls back to exact evaluation."""
from __future__ import annotations

import random

import pytest

from symbolic import bulk
from symbolic.validate import predict, predict_all

SD15 = {"model": "sd15", "frames": None, "attention": "sdpa", "sdpa_backend": "default", "dtype": "fp16",
        "prompt_tokens": 77}
SDXL = {"model": "sdxl", "frames": None, "task": "txt2img", "attention": "sdpa", "sdpa_backend": "default",
        "dtype": "default", "prompt_tokens": 77, "memory_option": "none"}


def _rows(count: int, seed: int) -> list[tuple[int, dict]]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        if rng.random() < 0.6:
            inputs = dict(SD15, task=rng.choice(["img2img", "txt2img"]),
                          memory_option=rng.choice(["none", "vae_tiling", "vae_slicing+attention_slicing"]))
        else:
            inputs = dict(SDXL)
        inputs.update(height=8 * rng.randint(32, 256), width=8 * rng.randint(32, 256),
                      num_images_per_prompt=rng.randint(1, 4), guidance_scale=rng.choice([1.0, 5.0, 7.5]))
        rows.append((i + 2, inputs))
    return rows


@pytest.mark.parametrize("exact_limit", [bulk.EXACT_LIMIT, 2**30])
def test_bulk_equals_one_by_one(monkeypatch, exact_limit):
    """With the real limit the vectorised values are used; with 2**30 most rows fall back to the exact path."""
    monkeypatch.setattr(bulk, "EXACT_LIMIT", exact_limit)
    rows = _rows(60, seed=exact_limit % 997)
    assert predict_all(rows) == [predict(inputs) for _, inputs in rows]


def test_bulk_names_the_row_of_bad_input():
    rows = _rows(3, seed=1)
    rows[1][1]["height"] = 0
    with pytest.raises(ValueError, match=r"^row 3: height"):
        predict_all(rows)
