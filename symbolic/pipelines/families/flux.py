"""FLUX.1 (``pipeline_flux.py``): the pipeline classes of this family as data, each read off its diffusers ``__call__`` /
``encode_prompt`` / ``prepare_latents`` (diffusers 0.3x-0.4x)."""
from __future__ import annotations

from symbolic.pipelines.spec import FrameRule, GuidanceMode, PipelineSpec, TextCall

SPECS = (
    PipelineSpec(
        class_name="FluxPipeline", denoiser="transformer",
        # __init__'s annotations: the classes this pipeline takes for its denoiser and its VAE.
        denoiser_class="FluxTransformer2DModel", vae_class="AutoencoderKL",
        # CLIP (77 tokens, padded) gives only the pooled vector (B x 768, negligible); T5 the sequence.
        text_calls=(TextCall("text_encoder", 77, 0), TextCall("text_encoder_2", 512, 512)),
        guidance=GuidanceMode.DISTILLED, frame_rule=FrameRule.IMAGE, denoiser_text_tokens=512, prompt_embeds_from=("text_encoder_2",),
        latents_fp32=False, model_input_copy=False, multiple=16, default_guidance_scale=3.5,
        default_height=1024, default_width=1024, default_frames=None, default_dtype="bf16",
        source="pipeline_flux.py: _get_clip_prompt_embeds (pooler_output), _get_t5_prompt_embeds (max_sequence_length "
               "512 by default for dev and schnell), __call__ (guidance as an embedding input, one forward of batch B; "
               "true CFG only with a negative prompt and true_cfg_scale > 1, not modelled), prepare_latents (packed "
               "2 x 2 latents in the prompt dtype, passed as they are), no VAE upcast; check_inputs only warns off "
               "multiples of 16 and floors, refused here"),
)
