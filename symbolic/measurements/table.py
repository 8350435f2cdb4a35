"""The one schema of a measurement table (CSV): what the GPU harness writes (``symbolic.harness.measure_pipeline``),
what ``validate`` reads and compares, what ``data/measurements/*.csv`` hold.

Input columns describe the call; ``model`` and ``frames`` may be missing (the SD 1.5 table predates them: such a
row is SD 1.5, an image model). Measured columns are bytes: the weights after loading, the run's peaks (allocated,
reserved, the driver's used memory), each stage's peak allocated bytes (weights included; empty where the stage did
not run) and, under the harness's ``--min-cap``, the smallest device memory the call completed in.
"""
from __future__ import annotations

#: Every input column, in the order the harness writes them.
INPUT_COLUMNS = ("model", "task", "attention", "sdpa_backend", "memory_option", "dtype", "height", "width", "frames",
                 "num_images_per_prompt", "guidance_scale", "prompt_tokens")
#: The input columns a table may leave out.
OPTIONAL_INPUT_COLUMNS = ("model", "frames")
#: The input columns every table has.
REQUIRED_INPUT_COLUMNS = tuple(c for c in INPUT_COLUMNS if c not in OPTIONAL_INPUT_COLUMNS)
#: The model of a row without a ``model`` cell (the SD 1.5 table predates the column).
MODEL_OF_UNNAMED_ROWS = "sd15"
#: The stages a pipeline call may run, in pipeline order (``symbolic.core.terms.Stage`` beyond ``resident``).
STAGES = ("text_encoder", "text_encoder_2", "text_encoder_3", "vae_encode", "unet_step", "transformer_step",
          "vae_decode", "safety_checker")
#: Stage -> its peak column.
STAGE_COLUMNS = {stage: f"stage_{stage}_peak" for stage in STAGES}
#: The measured columns, in order.
MEASURED_COLUMNS = ("weights_allocated_bytes", "peak_allocated_bytes", "peak_reserved_bytes", "driver_used_bytes",
                    *STAGE_COLUMNS.values(), "min_cap_bytes")
#: A table's columns.
COLUMNS = INPUT_COLUMNS + MEASURED_COLUMNS
