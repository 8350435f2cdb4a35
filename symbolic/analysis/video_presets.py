"""Latent-space presets of real video diffusion models, each value with its source.

A preset holds what the latent estimator needs from a model: the VAE's spatial and temporal compression and latent
channels, the DiT's spatial and temporal patch size, and whether the VAE is causal in time (the first frame is
encoded on its own, so ``T`` frames give ``1 + ceil((T - 1) / s_t)`` latent frames; diffusers' pipelines write
``(num_frames - 1) // s_t + 1`` and expect ``num_frames = k * s_t + 1``, where both agree).

The ``default_*`` fields are the pipeline's own defaults (``__call__`` arguments or the transformer config's sample
size), used by the CLI when ``--frames/--height/--width`` are left out.

A bundled video pipeline's preset is read from its own configs (``BUNDLED_PRESETS``: the VAE and denoiser
component classes and the pipeline's spec say every value, written nowhere else); a model that is not bundled
(Mochi) is written here with its source. The names are known without reading anything (``preset_names``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


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

#: Presets read from a bundled pipeline (preset name -> (bundled id, the models it stands for)).
BUNDLED_PRESETS: dict[str, tuple[str, str]] = {
    "cogvideox": ("cogvideox-2b", "CogVideoX-2b / CogVideoX-5b (v1.0; both share the VAE)"),
    "hunyuanvideo": ("hunyuanvideo", "HunyuanVideo (hunyuanvideo-community/HunyuanVideo)"),
    "wan2.1": ("wan2.1-t2v-1.3b", "Wan2.1 T2V 1.3B / 14B (both share the VAE and the patch size)"),
    "ltx-video": ("ltx-video", "LTX-Video (Lightricks/LTX-Video, 0.9.x)"),
}

#: Presets of models not bundled, each value from its source.
WRITTEN_PRESETS: tuple[VideoModelPreset, ...] = (
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


def _bundled(name: str) -> VideoModelPreset:
    """A bundled pipeline's latent parameters, from its component classes and spec (the cold path: SymPy)."""
    from symbolic.pipelines import catalog
    from symbolic.pipelines.model import component

    model, described = BUNDLED_PRESETS[name]
    source = catalog.load(model)
    spec = source.spec
    vae, denoiser = component(source, "vae"), component(source, spec.denoiser)
    values = {"latent_channels": int(vae.latent_channels), "spatial_compression": int(vae.spatial_compression),
              "temporal_compression": int(vae.temporal_compression), "patch_size": int(denoiser.patch),
              "patch_size_t": int(getattr(denoiser, "patch_t", None) or 1)}
    read = ", ".join(f"{key} {value}" for key, value in values.items())
    return VideoModelPreset(
        name=name, model=described, **values,
        # every bundled video VAE encodes the first frame on its own (causal 3D convolutions)
        causal=spec.video, default_frames=int(spec.default_frames), default_height=int(spec.default_height),
        default_width=int(spec.default_width),
        source=(f"bundled {model} (symbolic/configs/hub/{source.hub_id}): vae/config.json ({type(vae).__name__}) and "
                f"{spec.denoiser}/config.json ({type(denoiser).__name__}) as their component classes read them: "
                f"{read}; defaults (frames {spec.default_frames}, {spec.default_height} x {spec.default_width}) and "
                f"the latent-frame rule from the {spec.class_name} spec (symbolic.pipelines.families)"))


@lru_cache(maxsize=None)
def video_presets() -> dict[str, VideoModelPreset]:
    """Every preset by name: the bundled ones read from their configs, then the written ones."""
    return {**{name: _bundled(name) for name in BUNDLED_PRESETS}, **{p.name: p for p in WRITTEN_PRESETS}}


def __getattr__(name: str):
    if name == "VIDEO_PRESETS":  # built on first use: reading the bundled configs needs the component library
        return video_presets()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Other spellings people use for the same models (case-insensitive, like the preset names).
PRESET_ALIASES: dict[str, str] = {
    "cogvideox-2b": "cogvideox", "cogvideox-5b": "cogvideox", "cogvideox1.0": "cogvideox",
    "hunyuan": "hunyuanvideo", "hunyuan-video": "hunyuanvideo",
    "wan": "wan2.1", "wan-2.1": "wan2.1", "wan2.1-t2v-1.3b": "wan2.1", "wan2.1-t2v-14b": "wan2.1",
    "ltx": "ltx-video", "ltxvideo": "ltx-video", "ltx-video-0.9": "ltx-video",
    "mochi": "mochi-1", "mochi1": "mochi-1", "mochi-1-preview": "mochi-1",
}


def preset_names() -> tuple[str, ...]:
    return tuple(BUNDLED_PRESETS) + tuple(p.name for p in WRITTEN_PRESETS)


def get_preset(preset: object, *, argument: str = "preset") -> VideoModelPreset:
    """A preset by name (case-insensitive, aliases accepted) or a ``VideoModelPreset`` itself; else ValueError."""
    if isinstance(preset, VideoModelPreset):
        return preset
    if isinstance(preset, str):
        key = preset.strip().lower()
        key = PRESET_ALIASES.get(key, key)
        if key in preset_names():
            return video_presets()[key]
    raise ValueError(f"{argument}: unknown video model preset {preset!r}; valid names: {', '.join(preset_names())}")
