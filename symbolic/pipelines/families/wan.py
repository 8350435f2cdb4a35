"""Wan 2.1 (``pipeline_wan.py``): the pipeline classes of this family as data, each read off its diffusers ``__call__`` /
``encode_prompt`` / ``prepare_latents`` (diffusers 0.3x-0.4x)."""
from __future__ import annotations

from symbolic.pipelines.spec import FrameRule, GuidanceMode, PipelineSpec, TextCall

SPECS = (
    PipelineSpec(
        class_name="WanPipeline", denoiser="transformer",
        # __init__'s annotations: the classes this pipeline takes for its denoiser and its VAE.
        denoiser_class="WanTransformer3DModel", vae_class="AutoencoderKLWan",
        text_calls=(TextCall("text_encoder", 512, 512),),
        guidance=GuidanceMode.SEPARATE, frame_rule=FrameRule.WAN, denoiser_text_tokens=512, prompt_embeds_from=("text_encoder",),
        latents_fp32=True, model_input_copy=True, multiple=16, default_guidance_scale=5.0,
        default_height=480, default_width=832, default_frames=81, default_dtype="bf16",
        source="pipeline_wan.py: _get_t5_prompt_embeds (max_sequence_length 512), __call__ (conditional then "
               "unconditional forward, latents float32, latent_model_input = latents.to(transformer_dtype)), "
               "num_frames rounded to 4k + 1"),
)
