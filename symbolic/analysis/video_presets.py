"""Latent-space presets of real video diffusion models, each value with its source.

A preset holds what the latent estimator needs from a model: the VAE's spatial and temporal compression and latent
channels, the DiT's spatial and temporal patch size, and whether the VAE is causal in time (the first frame is
encoded on its own, so ``T`` frames give ``1 + ceil((T - 1) / s_t)`` latent frames; diffusers' pipelines write
``(num_frames - 1) // s_t + 1`` and expect ``num_frames = k * s_t + 1``, where both agree).

The ``default_*`` fields are the pipeline's own defaults (``__call__`` arguments or the transformer config's sample
size), used by the CLI when ``--frames/--height/--width`` are left out.

This module is plain data (no SymPy), so the CLI can list presets without importing SymPy.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VideoModelPreset:
    """The latent-space parameters of one video model (a frozen record; see ``source`` for where each comes from)."""

    name: str
    model: str
    latent_channels: int
    spatial_compression: int
    temporal_compression: int
    patch_size: int
    patch_size_t: int
    causal: bool
    default_frames: int
    default_height: int
    default_width: int
    source: str


_DIFFUSERS = "huggingface/diffusers src/diffusers"

VIDEO_PRESETS: dict[str, VideoModelPreset] = {
    preset.name: preset
    for preset in (
        VideoModelPreset(
            name="cogvideox",
            model="CogVideoX-2b / CogVideoX-5b (v1.0; both share the VAE)",
            latent_channels=16,
            spatial_compression=8,
            temporal_compression=4,
            patch_size=2,
            patch_size_t=1,
            causal=True,
            default_frames=49,
            default_height=480,
            default_width=720,
            source=(
                "VAE THUDM/CogVideoX-2b and -5b vae/config.json (bundled under symbolic/configs/hub): "
                "AutoencoderKLCogVideoX latent_channels 16, temporal_compression_ratio 4, spatial 8 = "
                "2**(len(block_out_channels) - 1) with 4 blocks (CogVideoXPipeline.vae_scale_factor_spatial); "
                "transformer/config.json patch_size 2, patch_size_t null (CogVideoX 1.0 has no temporal patch; "
                "1.5 has 2); causal: CogVideoXCausalConv3d, and "
                f"{_DIFFUSERS}/pipelines/cogvideo/pipeline_cogvideox.py prepare_latents uses "
                "(num_frames - 1) // vae_scale_factor_temporal + 1 (49 -> 13); defaults: transformer sample_frames "
                "49, sample_height 60 x 8, sample_width 90 x 8"
            ),
        ),
        VideoModelPreset(
            name="hunyuanvideo",
            model="HunyuanVideo (hunyuanvideo-community/HunyuanVideo)",
            latent_channels=16,
            spatial_compression=8,
            temporal_compression=4,
            patch_size=2,
            patch_size_t=1,
            causal=True,
            default_frames=129,
            default_height=720,
            default_width=1280,
            source=(
                "vae/config.json (bundled under symbolic/configs/hub): AutoencoderKLHunyuanVideo "
                "latent_channels 16, spatial_compression_ratio 8, temporal_compression_ratio 4, causal 3D convs "
                "(HunyuanVideoCausalConv3d); transformer/config.json (hunyuanvideo_transformer.json): "
                f"patch_size 2, patch_size_t 1; {_DIFFUSERS}/pipelines/hunyuan_video/pipeline_hunyuan_video.py "
                "prepare_latents uses (num_frames - 1) // vae_scale_factor_temporal + 1 (129 -> 33); "
                "__call__ defaults height 720, width 1280, num_frames 129"
            ),
        ),
        VideoModelPreset(
            name="wan2.1",
            model="Wan2.1 T2V 1.3B / 14B (both share the VAE and the patch size)",
            latent_channels=16,
            spatial_compression=8,
            temporal_compression=4,
            patch_size=2,
            patch_size_t=1,
            causal=True,
            default_frames=81,
            default_height=480,
            default_width=832,
            source=(
                "Wan-AI/Wan2.1-T2V-1.3B-Diffusers vae/config.json (bundled under symbolic/configs/hub): "
                "AutoencoderKLWan z_dim 16, scale_factor_spatial 8, scale_factor_temporal 4, causal 3D convs "
                "(WanCausalConv3d); transformer/config.json (wan2.1_t2v_*_transformer.json) patch_size [1, 2, 2] "
                f"= (t, h, w); {_DIFFUSERS}/pipelines/wan/pipeline_wan.py prepare_latents uses "
                "(num_frames - 1) // vae_scale_factor_temporal + 1 (81 -> 21); "
                "defaults height 480, width 832, num_frames 81"
            ),
        ),
        VideoModelPreset(
            name="ltx-video",
            model="LTX-Video (Lightricks/LTX-Video, 0.9.x)",
            latent_channels=128,
            spatial_compression=32,
            temporal_compression=8,
            patch_size=1,
            patch_size_t=1,
            causal=True,
            default_frames=161,
            default_height=512,
            default_width=704,
            source=(
                f"{_DIFFUSERS}/models/autoencoders/autoencoder_kl_ltx.py AutoencoderKLLTXVideo defaults: "
                "latent_channels 128, spatial_compression_ratio = patch_size 4 x 2**3 = 32, "
                "temporal_compression_ratio = patch_size_t 1 x 2**3 = 8 (spatio_temporal_scaling "
                "(True, True, True, False)), encoder_causal True; "
                "models/transformers/transformer_ltx.py LTXVideoTransformer3DModel patch_size 1, patch_size_t 1; "
                "pipelines/ltx/pipeline_ltx.py prepare_latents uses "
                "(num_frames - 1) // vae_temporal_compression_ratio + 1 (161 -> 21); "
                "__call__ defaults height 512, width 704, num_frames 161"
            ),
        ),
        VideoModelPreset(
            name="mochi-1",
            model="Mochi 1 preview (genmo/mochi-1-preview)",
            latent_channels=12,
            spatial_compression=8,
            temporal_compression=6,
            patch_size=2,
            patch_size_t=1,
            causal=True,
            default_frames=19,
            default_height=480,
            default_width=848,
            source=(
                f"{_DIFFUSERS}/models/autoencoders/autoencoder_kl_mochi.py AutoencoderKLMochi defaults: "
                "latent_channels 12, spatial_expansions (2, 2, 2) -> 8, temporal_expansions (1, 2, 3) -> 6, "
                "causal convs (CogVideoXCausalConv3d), decode gives (latent_frames - 1) x 6 + 1 frames; "
                "models/transformers/transformer_mochi.py MochiTransformer3DModel patch_size 2, no temporal "
                "patch; pipelines/mochi/pipeline_mochi.py: vae_spatial_scale_factor 8, "
                "vae_temporal_scale_factor 6, prepare_latents uses (num_frames - 1) // 6 + 1 (163 -> 28); "
                "defaults height 480, width 848 (default_height/width), num_frames 19"
            ),
        ),
    )
}

#: Other spellings people use for the same models (case-insensitive, like the preset names).
PRESET_ALIASES: dict[str, str] = {
    "cogvideox-2b": "cogvideox", "cogvideox-5b": "cogvideox", "cogvideox1.0": "cogvideox",
    "hunyuan": "hunyuanvideo", "hunyuan-video": "hunyuanvideo",
    "wan": "wan2.1", "wan-2.1": "wan2.1", "wan2.1-t2v-1.3b": "wan2.1", "wan2.1-t2v-14b": "wan2.1",
    "ltx": "ltx-video", "ltxvideo": "ltx-video", "ltx-video-0.9": "ltx-video",
    "mochi": "mochi-1", "mochi1": "mochi-1", "mochi-1-preview": "mochi-1",
}


def preset_names() -> tuple[str, ...]:
    return tuple(VIDEO_PRESETS)


def get_preset(preset: object, *, argument: str = "preset") -> VideoModelPreset:
    """A preset by name (case-insensitive, aliases accepted) or a ``VideoModelPreset`` itself; else ValueError."""
    if isinstance(preset, VideoModelPreset):
        return preset
    if isinstance(preset, str):
        key = preset.strip().lower()
        key = PRESET_ALIASES.get(key, key)
        if key in VIDEO_PRESETS:
            return VIDEO_PRESETS[key]
    raise ValueError(f"{argument}: unknown video model preset {preset!r}; valid names: {', '.join(VIDEO_PRESETS)}")
