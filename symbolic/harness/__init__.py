"""Measurement harness and CPU cross-check witness (optional extra: torch, diffusers, transformers).

Nothing in the core ``symbolic`` package imports this subpackage: it needs torch and diffusers, the core stays
SymPy-only. Importing ``symbolic.harness`` itself is free; the submodules import torch when they are imported.

* :mod:`symbolic.harness.build_sd15`: the real diffusers / transformers SD 1.5 classes built from
  ``symbolic/configs/sd15/*.json`` with random weights (no hub): ``build_components``, ``build_pipeline``,
  ``parameter_counts``, ``tensor_sizes``.
* :mod:`symbolic.harness.measure_sd15`: the GPU measurement method of ``shared/DESIGN.md`` (per-stage peaks,
  rows in the column format of ``measurements/sd15_h100.csv``); entry point ``scripts/measure_sd15_gpu.py``.
* :mod:`symbolic.harness.meta_trace`: executes the real modules on the ``meta`` device under a dispatch mode that
  counts live storage bytes (512-byte rounding): ``trace_vae_decode``, ``trace_vae_encode``, ``trace_unet_step``,
  ``trace_text_encoder``, ``trace_safety_checker``, ``trace_module``, ``LiveBytesMode``.
* :mod:`symbolic.harness.build_video`, :mod:`symbolic.harness.measure_video`: one transformer forward and one VAE
  decode of the video models on a GPU, rows beside ``estimate_video_pipeline`` (``compare``); entry point
  ``scripts/measure_video_gpu.py``.
"""
