"""Published peak-memory figures (model cards, diffusers docs, the models' own READMEs), each with its settings,
beside the estimate under the same settings, and whether the settings are comparable."""
from __future__ import annotations

from symbolic.pipelines.estimate import estimate

GB = 10**9
GiB = 2**30


def published_figures() -> list[dict]:
    """Published peak-memory figures with their settings, and whether our model's settings match them."""
    return [
        {"model": "cogvideox-2b", "frames": 49, "height": 480, "width": 720, "dtype": "fp16", "memory_options": (),
         "published_gb": 33, "unit": "GiB (torch.cuda.max_memory_allocated / 1024**3, printed as GB)",
         "source": "diffusers PR #9150 / CogVideoX pipeline docs (memory optimization section), diffusers fp16",
         "comparable": True, "note": "no optimization: every component on the GPU"},
        {"model": "cogvideox-2b", "frames": 49, "height": 480, "width": 720, "dtype": "fp16",
         "memory_options": ("cpu_offload",), "published_gb": 19, "unit": "GiB (max_memory_allocated)",
         "source": "diffusers CogVideoX docs: 'requires about 19 GB ... to decode 49 frames', "
                   "pipe.enable_model_cpu_offload()",
         "comparable": True, "note": "model CPU offload"},
        {"model": "cogvideox-2b", "frames": 49, "height": 480, "width": 720, "dtype": "fp16",
         "memory_options": ("cpu_offload", "vae_tiling"), "published_gb": 11, "unit": "GiB (max_memory_allocated)",
         "source": "diffusers CogVideoX docs: model CPU offload + pipe.vae.enable_tiling()",
         "comparable": True, "note": "model CPU offload and VAE tiling"},
        {"model": "wan2.1-t2v-1.3b", "frames": 81, "height": 480, "width": 832, "dtype": None,
         "memory_options": ("cpu_offload", "text_encoder_cpu"), "published_gb": 8.19, "unit": "GB (VRAM)",
         "source": "Wan-Video/Wan2.1 README: T2V-1.3B at 480P with --offload_model True --t5_cpu",
         "comparable": False, "note": "Wan's own code base (not diffusers): its own VAE and offload; compared "
                                      "with our cpu_offload + text_encoder_cpu"},
        {"model": "hunyuanvideo", "frames": 129, "height": 720, "width": 1280, "dtype": None,
         "memory_options": ("vae_tiling",), "published_gb": 60, "unit": "GB (GPU peak memory)",
         "source": "Tencent/HunyuanVideo README, requirements table (batch 1, 720px1280px129f)",
         "comparable": False, "note": "Tencent's code base (flash-attn, VAE tiling on, its own text-encoder "
                                      "handling); compared with our diffusers model with vae_tiling"},
        {"model": "hunyuanvideo", "frames": 129, "height": 544, "width": 960, "dtype": None,
         "memory_options": ("vae_tiling",), "published_gb": 45, "unit": "GB (GPU peak memory)",
         "source": "Tencent/HunyuanVideo README, requirements table (batch 1, 544px960px129f)",
         "comparable": False, "note": "as above"},
    ]


def published_comparison() -> list[dict]:
    """Each published figure next to our estimate under the same settings."""
    rows = []
    for fig in published_figures():
        est = estimate(fig["model"], fig["height"], fig["width"], frames=fig["frames"], dtype=fig["dtype"],
                       memory_options=fig["memory_options"])
        unit = GiB if fig["unit"].startswith("GiB") else GB
        ours = est["peak_allocated_bytes"] / unit
        rows.append({**fig, "ours_allocated": round(ours, 2),
                     "ours_reserved": round(est["peak_reserved_bytes"] / unit, 2),
                     "ours_nvidia_smi": round(est["nvidia_smi_bytes"] / unit, 2), "peak_stage": est["peak_stage"],
                     "ratio": round(ours / fig["published_gb"], 3)})
    return rows
