"""The GPU measurement harness and the CPU cross-check witness (optional extra: torch, diffusers, transformers).

Nothing in the core ``symbolic`` package imports this subpackage: it needs torch and diffusers, the core stays
SymPy-only. Importing ``symbolic.harness`` itself is free; the submodules import torch when they need it.

One measuring loop, driven by the pipeline specs (``symbolic.pipelines.families``) and the bundled Hub-layout configs
(``symbolic/configs/hub``), for every bundled id:

* :mod:`symbolic.harness.build_pipeline`: the real diffusers / transformers classes ``model_index.json`` names, built
  from the bundled configs with random weights in the dtypes ``from_pretrained(torch_dtype=...)`` gives them (no Hub,
  offline tokenizers): ``build_components``, ``build_pipeline``, ``pipeline_from_components``, ``make_prompt``,
  ``tensor_sizes`` (every tensor in ``module.to()``'s order), ``resolve_dtype``;
* :mod:`symbolic.harness.measure_pipeline`: one pipeline call per CSV row, per-stage peaks (the columns of
  ``data/measurements/sd15_h100.csv`` plus ``model``, ``frames``, a stage column per stage and ``min_cap_bytes``),
  the built-in grids, ``--dry-run`` and ``--compare`` against the estimate; entry point ``scripts/measure_gpu.py``;
* :mod:`symbolic.harness.torch_memory`: the allocator readings (``CudaMemory``, ``NullMemory`` on a CPU), its
  512-byte rounding and the ``StageRecorder`` that folds peaks per stage;
* :mod:`symbolic.harness.meta_trace`: executes the real modules on the ``meta`` device under a dispatch mode that
  counts live storage bytes (512-byte rounding): ``trace_module``, ``LiveBytesMode`` and, on SD 1.5's components by
  default, ``trace_vae_decode``, ``trace_vae_encode``, ``trace_unet_step``, ``trace_text_encoder``,
  ``trace_safety_checker``.
"""
