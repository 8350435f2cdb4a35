"""The seed notebook's formula, kept as the baseline our model is compared with.

``seed_formula`` is ``f(h, w, prompt_length, **kwargs)`` from ``../shared/seeds/004_62e69552237fbd8c.txt``, unchanged
in substance: UNet 860M + CLIP 123M + VAE 35M parameters, skip activations per UNet level, one attention level's
Q/K/V/O + N^2 buffers, a 64-channel full-resolution VAE map, and a 12% overhead. Its constants are the seed's, not
ours (it misses the safety checker, the VAE decoder's real peak and the attention kernels' behaviour).
"""
from __future__ import annotations


def seed_formula(h: int, w: int, prompt_length: int, **kwargs) -> dict:
    """The seed's ``f()``: estimated peak VRAM in bytes (float) for SD v1.x fp16 inference, with its breakdown."""
    B = kwargs.get("bytes_per_scalar", 2)
    f = kwargs.get("vae_downsample", 8)
    P_unet = kwargs.get("unet_params", 860e6)
    P_clip = kwargs.get("clip_params", 123e6)
    P_vae = kwargs.get("vae_params", 35e6)
    C0 = kwargs.get("base_channels", 320)
    level_muls = kwargs.get("channel_muls", [1, 2, 4, 8])
    include_attn_n2 = kwargs.get("include_attn_n2", True)
    k_overhead = kwargs.get("overhead_factor", 0.12)
    D_text = kwargs.get("text_dim", 768)
    batch = kwargs.get("batch", 1)

    h_l = max(1, h // f)
    w_l = max(1, w // f)
    S = h_l * w_l
    L = prompt_length
    mem_weights = B * (P_unet + P_clip + P_vae)
    S_lvls = [max(1, S // (4**i)) for i in range(len(level_muls))]
    C_lvls = [C0 * m for m in level_muls]
    act_scalars = 0
    for c, s_ in zip(C_lvls, S_lvls):
        act_scalars += batch * c * s_
    mem_acts = B * act_scalars
    att_sizes = []
    for c, s_ in zip(C_lvls, S_lvls):
        n = batch * s_
        att_sizes.append(B * (4 * c * n + n * L + (n * n if include_attn_n2 else 0)))
    mem_attn_peak = max(att_sizes) if att_sizes else 0
    mem_clip = B * (L * D_text + L * L)
    mem_vae = B * batch * kwargs.get("vae_act_channels", 64) * h * w
    mem_pre = mem_weights + mem_acts + mem_attn_peak + mem_clip + mem_vae
    mem_total = mem_pre * (1 + k_overhead)
    return {
        "bytes": mem_total,
        "GB": mem_total / (1024**3),
        "breakdown": {"weights_bytes": mem_weights, "activations_bytes": mem_acts,
                      "attention_peak_bytes": mem_attn_peak, "clip_bytes": mem_clip, "vae_bytes": mem_vae},
    }


def seed_formula_bytes(h: int, w: int, prompt_length: int, batch: int = 1) -> float:
    return seed_formula(h, w, prompt_length, batch=batch)["bytes"]
