"""The seed's ``f()``, kept exactly as its author wrote it (``../shared/seeds/004_62e69552237fbd8c.txt``, cell
``In [8]``), and what it misses, term by term.

The seed asks for peak VRAM of SD 1.5 img2img in fp16 as an equation in H, W and prompt length, and answers with
``f(h, w, prompt_length, **kwargs)``: 1.12 x (fp16 weights + UNet skip maps + one attention level's buffers + CLIP
activations + one full-resolution VAE map). Kept here unchanged as the first baseline; ``seed_formula`` is its
name in this package, ``seed_formula_bytes`` its ``"bytes"``.

Where each term stands, against our model (``symbolic.pipelines.api.estimate("sd15", H, W, task="img2img",
guidance_scale=5.0)``: weights by component, ``stage_activation_bytes`` per stage) and the H100 measurement
(``data/measurements/sd15_h100.csv``, peak allocated), in MiB, fp16, batch 1, 77 tokens:

=====================================  ==========  ==========  ===========  ===========
term                                   seed 512    ours 512    seed 1024    ours 1024
=====================================  ==========  ==========  ===========  ===========
weights (UNet + CLIP + VAE [+ SC])      1941.7      2613.5      1941.7       2613.5
UNet skip maps / our UNet step             4.7       163.4        18.8        553.7
attention level (QKVO + nL + n^2)         42.6     (in step)     554.4      (in step)
CLIP / our text-encoder stage              0.1        34.7         0.1         34.7
VAE map / our VAE decode stage            32.0       642.2       128.0       2466.4
VAE encode of the init image                 -       418.8           -       1575.3
12 % overhead                            242.5           -       317.2            -
total / our peak allocated              2263.6      3279.9      2960.1       5104.1
measured peak allocated                 3297.9                  5122.9
=====================================  ==========  ==========  ===========  ===========

So the seed is -31% at 512 x 512 and -42% at 1024 x 1024, and the gap grows with H W. Term by term:

- **Weights** ``2 (860M + 123M + 35M)`` = 2.036 GB. The UNet (859.5M) and CLIP text encoder (123.1M) counts are
  right; the VAE has 83.7M parameters, not 35M (-97 MB), and the pipeline also loads the **safety checker** (CLIP
  ViT-L/14 vision tower + projection, 304M parameters, 608 MB) onto the GPU with the rest: ``from_pretrained`` gives
  7 components, not 3 models. Together 0.70 GB, a quarter of the real weights, missing at every size.
- **UNet skip maps** ``B sum_i 320 m_i S / 4^i``: one map per level, where the UNet keeps 12 skip tensors, each
  resnet's GroupNorm / SiLU / conv temporaries, the time embedding, and runs a batch of 2 under classifier-free
  guidance (``guidance_scale > 1``: uncond and cond concatenated). 4.7 MiB against 163.4 MiB at 512 (35x).
- **Attention** ``max_i 2 (4 d n + n L + n^2)`` with ``n = B S_i``: the N^2 term assumes the score matrix is stored
  for one head. With PyTorch SDPA on an H100 (flash / memory-efficient kernels, diffusers' default) no N x N matrix
  is ever materialised, so the 32 MiB (512) / 512 MiB (1024) of ``n^2`` are not there; with the math backend or the
  classic ``AttnProcessor`` it is stored per head and per CFG copy (2 x 8 heads x 4096^2 x 2 B = 512 MiB per score
  tensor at 512, several alive at once: the measured math-SDPA UNet step holds 2.3 GiB), 16x the seed's. ``n = B S``
  also squares the batch: attention is per sample, so scores grow with B, not B^2 (at 1024 x 1024, batch 2 the
  term alone is 2.1 GiB).
- **CLIP** ``2 (77 x 768 + 77^2)``: 0.1 MB, where the text encoder's stage holds the causal mask, the 3072-wide MLP
  activations and two calls under CFG (34.7 MiB in our model). The prompt-length dependence is not real: diffusers pads
  or truncates every prompt to 77 tokens, and the measured 8-token and 77-token rows are byte-identical (the seed
  predicts them 0.7 MB apart).
- **VAE** ``2 x 64 H W``: 128 bytes per output pixel where the decoder's peak is about 2440 (measured 611 MiB at
  512, 2435 MiB at 1024): at full resolution it holds 128- and 256-channel maps, the nearest-upsampled 256-channel
  map feeding the last up block's conv, and the conv's workspace (``sd15_h100_peak_composition.json``: a 257 MiB
  block inside conv2d, a 128 MiB ``interpolate`` output, 128 and 64 MiB conv outputs, 32 MiB in a resnet). The
  decode is the peak stage under SDPA; the seed's VAE term is 1/20 of it. The img2img **VAE encode** of the init
  image (419 MiB at 512) is not counted at all.
- **Sum instead of max**: the seed adds UNet, attention, CLIP and VAE terms, but the stages run one after another
  and only the weights stay resident; the peak is weights + the largest stage. Harmless here (its activation terms
  are small), wrong in form.
- **12% overhead** on everything, weights included: 242.5 MiB at 512, the seed's largest term after the weights. Peak
  *allocated* bytes carry no such factor on weights (the caching allocator's rounding and cached segments show in
  *reserved* bytes, and the CUDA context only in nvidia-smi); it offsets two fifths of the missing safety checker and
  hides the structure of the miss.
- **dtype**: ``bytes_per_scalar`` (default 2) must be passed for fp32; at its default the seed is -65% on the fp32
  row, -30% when told 4 bytes.

On the 16 measured rows the median |error| is 31.4% (``symbolic.measurements.baselines.CLAIMED_MEDIAN_ABS_ERROR``).
"""
from __future__ import annotations

# ----------------------------------------------------------------------------------------------------------------
# Verbatim from the seed (cell In [8], "My Implementation"); not a character changed, comments included. The name
# ``f`` is the seed's; ``seed_formula`` below is the name the package uses.
# ----------------------------------------------------------------------------------------------------------------
##################### My Implementation #####################
def f(h: int, w: int, prompt_length: int, **kwargs):
    """
    Estimate peak VRAM usage for Stable Diffusion v1.x inference (FP16).
    This follows a slightly simplified analytic approach based on
    UNet/VAE/CLIP sizes and attention scaling.
    """

    # ---------------------- basic configurable knobs ----------------------
    # Most users won't change these, but exposing them makes the function reusable.
    B = kwargs.get("bytes_per_scalar", 2)             # FP16 → 2 bytes
    f = kwargs.get("vae_downsample", 8)               # SD uses 8× downsample for latents
    P_unet = kwargs.get("unet_params", 860e6)         # typical SD UNet param count
    P_clip = kwargs.get("clip_params", 123e6)         # CLIP params
    P_vae = kwargs.get("vae_params", 35e6)            # VAE params (approx)
    C0 = kwargs.get("base_channels", 320)             # UNet base channel count
    level_muls = kwargs.get("channel_muls", [1, 2, 4, 8])  # UNet multipliers per stage
    include_attn_n2 = kwargs.get("include_attn_n2", True)  # whether to include n^2 attention
    k_overhead = kwargs.get("overhead_factor", 0.12)        # overhead for CUDA buffers, etc.
    D_text = kwargs.get("text_dim", 768)                     # CLIP embedding dim
    batch = kwargs.get("batch", 1)

    # ---------------------- latent resolution ----------------------
    # images get compressed to (H/8 x W/8) by the VAE encoder.
    h_l = max(1, h // f)
    w_l = max(1, w // f)
    S = h_l * w_l       # number of spatial tokens in latent
    L = prompt_length   # number of CLIP tokens processed

    # ---------------------- model weights (always resident) ----------------------
    # straightforward: total FP16 parameter memory
    mem_weights = B * (P_unet + P_clip + P_vae)

    # ---------------------- UNet stored activations ----------------------
    # each downsampling stage reduces spatial dims by 2 → S / 4^i
    S_lvls = [max(1, S // (4**i)) for i in range(len(level_muls))]
    # channel count increases with depth (e.g., 320, 640, 1280, 2560)
    C_lvls = [C0 * m for m in level_muls]

    # sum of feature map sizes that stay alive due to skip connections
    act_scalars = 0
    for c, s_ in zip(C_lvls, S_lvls):
        act_scalars += batch * c * s_
    mem_acts = B * act_scalars

    # ---------------------- attention temporary buffers ----------------------
    # for each level, estimate the temporary memory needed in attention ops:
    # Q,K,V,output projections → around 4 * d * n
    # cross-attn (n * L)
    # optional self-attn (n^2) – large but depends on implementation
    att_sizes = []
    for c, s_ in zip(C_lvls, S_lvls):
        n = batch * s_
        d = c
        qkv_out = 4 * d * n
        cross = n * L
        self_mat = n * n if include_attn_n2 else 0
        att_sizes.append(B * (qkv_out + cross + self_mat))

    mem_attn_peak = max(att_sizes) if att_sizes else 0

    # ---------------------- CLIP activations ----------------------
    # small relative to UNet, but included for completeness
    mem_clip = B * (L * D_text + L * L)

    # ---------------------- VAE activations ----------------------
    # rough upper bound: a few full-res conv maps during decoding
    vae_feat_ch = kwargs.get("vae_act_channels", 64)
    mem_vae = B * batch * vae_feat_ch * h * w

    # ---------------------- sum before overhead ----------------------
    mem_pre = mem_weights + mem_acts + mem_attn_peak + mem_clip + mem_vae

    # ---------------------- framework overhead ----------------------
    mem_total = mem_pre * (1 + k_overhead)

    # return bytes + GB for readability along with breakdown
    return {
        "bytes": mem_total,
        "GB": mem_total / (1024**3),
        "breakdown": {
            "weights_bytes": mem_weights,
            "activations_bytes": mem_acts,
            "attention_peak_bytes": mem_attn_peak,
            "clip_bytes": mem_clip,
            "vae_bytes": mem_vae
        }
    }


#: The package's name for the seed's ``f``.
seed_formula = f


def seed_formula_bytes(h: int, w: int, prompt_length: int, batch: int = 1, bytes_per_scalar: int = 2) -> float:
    """The seed's total (its ``"bytes"``: weights + summed activations, times 1.12), for ``batch`` images with
    ``bytes_per_scalar`` bytes per element: both are knobs the seed's ``f`` itself takes as keyword arguments."""
    return f(h, w, prompt_length, batch=batch, bytes_per_scalar=bytes_per_scalar)["bytes"]
