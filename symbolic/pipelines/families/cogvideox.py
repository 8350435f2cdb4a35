"""CogVideoX (``pipeline_cogvideox.py``): the pipeline classes of this family as data, each read off its diffusers ``__call__`` /
``encode_prompt`` / ``prepare_latents`` (diffusers 0.3x-0.4x)."""
from __future__ import annotations

from symbolic.pipelines.spec import FrameRule, GuidanceMode, PipelineSpec, TextCall

SPECS = (
    PipelineSpec(
        class_name="CogVideoXPipeline", denoiser="transformer",
        # __init__'s annotations: the classes this pipeline takes for its denoiser and its VAE.
        denoiser_class="CogVideoXTransformer3DModel", vae_class="AutoencoderKLCogVideoX",
        text_calls=(TextCall("text_encoder", 226, 226),),
        guidance=GuidanceMode.BATCHED, frame_rule=FrameRule.CAUSAL, denoiser_text_tokens=226, prompt_embeds_from=("text_encoder",),
        latents_fp32=False, model_input_copy=True, multiple=16, default_guidance_scale=6.0,
        default_height=480, default_width=720, default_frames=49, default_dtype="bf16",
        source="pipeline_cogvideox.py: _get_t5_prompt_embeds (max_sequence_length 226, padding max_length), "
               "__call__ (torch.cat([latents] * 2) for CFG), prepare_latents ((T - 1) // 4 + 1 latent frames); "
               "multiple of 16: the transformer's 2 x 2 patch needs an even latent side"),
)
