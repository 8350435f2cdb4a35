"""``estimate_sd15``: the Python API over the closed-form SD 1.5 model (the CLI and the validator call it)."""
from __future__ import annotations

from symbolic.pipelines.sd15.config import SD15Config
from symbolic.validation import MAX_COUNT, guidance_copies, positive_int

STAGE_KEYS = ("text_encoder", "vae_encode", "unet_step", "vae_decode", "safety_checker")


def point(config: SD15Config, height, width, num_images_per_prompt, guidance_scale, prompt_tokens) -> dict[str, int]:
    """Validated symbol values for one run."""
    height = positive_int(height, "height", MAX_COUNT)
    width = positive_int(width, "width", MAX_COUNT)
    if height < 8 or width < 8:
        raise ValueError(f"height, width: must be at least 8 pixels (one latent pixel), got {height} x {width}")
    if config.task == "txt2img" and (height % 8 or width % 8):
        raise ValueError(f"height, width: txt2img needs multiples of 8 (diffusers raises otherwise), got {height} x {width}")
    return {"H": height, "W": width, "N": positive_int(num_images_per_prompt, "num_images_per_prompt", MAX_COUNT),
            "G": guidance_copies(guidance_scale), "L": positive_int(prompt_tokens, "prompt_tokens", MAX_COUNT),
            "b": config.bytes_per_element}


def make_config(task="img2img", attention="sdpa", sdpa_backend="default", memory_options=(), dtype="fp16",
                safety_checker=True, long_prompt=False, framework=None) -> SD15Config:
    if isinstance(memory_options, str):
        memory_options = (memory_options,)
    extra = {} if framework is None else {"framework": framework}
    return SD15Config(task=task, attention=attention, sdpa_backend=sdpa_backend,
                      memory_options=memory_options, dtype=dtype, safety_checker=safety_checker,
                      long_prompt=long_prompt, **extra)


def estimate_sd15(height: int = 512, width: int = 512, *, task: str = "img2img", num_images_per_prompt: int = 1,
                  guidance_scale: float = 7.5, prompt_tokens: int = 77, attention: str = "sdpa",
                  sdpa_backend: str = "default", dtype: str = "fp16", memory_options=(), safety_checker: bool = True,
                  long_prompt: bool = False, framework=None) -> dict:
    """Peak GPU memory of one SD 1.5 pipeline call with diffusers, model fully on the GPU.

    Returns bytes (exact integers): ``peak_allocated_bytes`` (``torch.cuda.max_memory_allocated``),
    ``peak_reserved_bytes`` (the caching allocator's segments), ``nvidia_smi_bytes`` (plus CUDA context),
    ``peak_stage``, ``weights_bytes`` (parameters and buffers) and ``stages`` (each stage's peak allocated bytes,
    weights included, for the stages that run).
    """
    from symbolic.pipelines.sd15.evaluate import evaluate

    config = make_config(task, attention, sdpa_backend, memory_options, dtype, safety_checker, long_prompt, framework)
    values = point(config, height, width, num_images_per_prompt, guidance_scale, prompt_tokens)
    return evaluate(config, values)
