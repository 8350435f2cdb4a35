"""A pipeline as data: what a diffusers pipeline class does with its components, read from its ``__call__``.

One ``PipelineSpec`` per diffusers pipeline class (``model_index.json``'s ``_class_name``); the components come from
the configs (``symbolic.components``), the per-repository defaults (dtypes the model card loads with) from
``symbolic.pipelines.catalog``. Only what really differs between pipelines is here; everything else is the
components' own knowledge.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class GuidanceMode(str, Enum):
    """How classifier-free guidance runs the denoiser."""

    #: One forward on [uncond, cond] concatenated (batch G x B; SD, CogVideoX, SD3, LTX-Video).
    BATCHED = "batched"
    #: Two forwards of batch B, one after the other (Wan, Qwen-Image's true CFG).
    SEPARATE = "separate"
    #: Guidance is an input of a guidance-distilled model; one forward of batch B (FLUX.1, HunyuanVideo).
    DISTILLED = "distilled"


class FrameRule(str, Enum):
    """Latent frames from T frames."""

    #: An image pipeline: one latent frame.
    IMAGE = "image"
    #: (T - 1) // s_t + 1 (CogVideoX, HunyuanVideo, LTX-Video).
    CAUSAL = "causal"
    #: T // s_t + 1 (WanPipeline rounds num_frames to s_t k + 1 first).
    WAN = "wan"


@dataclass(frozen=True)
class TextCall:
    """One text encoder's call in ``encode_prompt``: the component role, the tokens it is fed (padding included)
    and the embedding the pipeline keeps from it (tokens x the encoder's ``output_dim``; 0 tokens for a pooled
    vector only)."""

    role: str
    tokens_in: int
    tokens_kept: int
    #: The pipeline may be loaded without this encoder (``text_encoder_3=None``): ``encode_prompt`` then puts zeros of
    #: the embedding's shape on the device instead (SD 3's ``_get_t5_prompt_embeds``). Switch ``no_<role>``.
    optional: bool = False


@dataclass(frozen=True)
class PipelineSpec:
    class_name: str
    #: The component role that denoises (``transformer`` or ``unet``); its stage is ``<role>_step``.
    denoiser: str
    #: The classes ``__init__`` takes for the denoiser and the VAE (its type annotations): a folder whose configs
    #: name others is refused.
    denoiser_class: str
    vae_class: str
    #: Text encoders in the order ``encode_prompt`` calls them; each is its own stage (``text_encoder``,
    #: ``text_encoder_2``, ...), named by its role.
    text_calls: tuple[TextCall, ...]
    guidance: GuidanceMode
    frame_rule: FrameRule
    #: Tokens of the prompt embedding the denoiser receives (joint attention or cross-attention) and the roles whose
    #: ``output_dim`` add up to its width (SDXL concatenates its two CLIP encoders' hidden states).
    denoiser_text_tokens: int
    prompt_embeds_from: tuple[str, ...]
    #: ``prepare_latents`` makes float32 latents (Wan, HunyuanVideo) instead of the model dtype.
    latents_fp32: bool
    #: The denoiser's input is a new tensor each step (``torch.cat`` for CFG, or a dtype cast of float32 latents);
    #: False where the latents themselves are passed (FLUX.1).
    model_input_copy: bool
    #: ``check_inputs``: height and width must be multiples of this.
    multiple: int
    default_guidance_scale: float
    #: None: the denoiser config's ``sample_size`` x the VAE's scale factor, as the SD pipelines' ``__call__``.
    default_height: int | None
    default_width: int | None
    default_frames: int | None
    #: Default dtype of every component when the catalog names none (the diffusers docs' example).
    default_dtype: str
    source: str
    #: Under guidance, ``encode_prompt`` encodes a negative prompt (False: SDXL's ``force_zeros_for_empty_prompt``
    #: makes zeros instead; a guidance-distilled pipeline has none).
    encodes_negative_prompt: bool = True
    #: The decode (and img2img's encode) runs in float32 when the VAE is float16 and its config says
    #: ``force_upcast`` (SDXL's ``upcast_vae``; its img2img ``prepare_latents``).
    vae_upcast: bool = False
    #: What the pipeline class and its image-to-image sibling (same components) do: ``txt2img`` for text-to-image
    #: and text-to-video; ``img2img`` adds the VAE encode of the init image (batch 1: one image, its latent repeated
    #: for the N outputs; sizes rounded down to the VAE's scale factor by the image processor).
    tasks: tuple[str, ...] = ("txt2img",)
    #: The denoiser is a UNet whose attention runs diffusers' processors: the classic ``AttnProcessor`` and
    #: ``enable_attention_slicing`` apply (the transformers modelled here run their own SDPA calls).
    attention_processors: bool = False
    #: Every text encoder is a CLIP of 77 positions feeding a cross-attending UNet, so a long-prompt scheme (compel,
    #: the lpw community pipelines) can encode ceil(L / 75) chunks and concatenate them; diffusers itself truncates.
    chunked_prompts: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.guidance, GuidanceMode):
            raise ValueError(f"{self.class_name}: guidance must be a GuidanceMode, got {self.guidance!r}")
        if not isinstance(self.frame_rule, FrameRule):
            raise ValueError(f"{self.class_name}: frame_rule must be a FrameRule, got {self.frame_rule!r}")

    def role_kind(self, role: str) -> str | None:
        """The kind of component this pipeline uses ``role`` as (None: a role the spec does not name)."""
        if role == self.denoiser:
            return "denoiser"
        if role in {call.role for call in self.text_calls}:
            return "text_encoder"
        return {"vae": "vae", "safety_checker": "safety_checker"}.get(role)

    def check_role(self, role: str, class_name: str, kind: str, where: str) -> None:
        """Refuse (naming ``where``) a component of ``class_name`` and ``kind`` in a role this pipeline uses as
        another kind (a VAE's config in ``text_encoder/``, say)."""
        expected = self.role_kind(role)
        if expected is not None and kind != expected:
            raise ValueError(f"{where}: {class_name} is a {kind.replace('_', ' ')} component, and {self.class_name} "
                             f"uses {role} as its {expected.replace('_', ' ')}")

    @property
    def video(self) -> bool:
        return self.frame_rule is not FrameRule.IMAGE

    @property
    def denoiser_stage(self) -> str:
        return f"{self.denoiser}_step"

