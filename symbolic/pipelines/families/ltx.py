"""LTX-Video (``pipeline_ltx.py``): the pipeline classes of this family as data, each read off its diffusers ``__call__`` /
``encode_prompt`` / ``prepare_latents`` (diffusers 0.3x-0.4x)."""
from __future__ import annotations

from symbolic.pipelines.spec import FrameRule, GuidanceMode, PipelineSpec, TextCall

SPECS = (
    PipelineSpec(
        class_name="LTXPipeline", denoiser="transformer",
        # __init__'s annotations: the classes this pipeline takes for its denoiser and its VAE.
        denoiser_class="LTXVideoTransformer3DModel", vae_class="AutoencoderKLLTXVideo",
        text_calls=(TextCall("text_encoder", 128, 128),),
        guidance=GuidanceMode.BATCHED, frame_rule=FrameRule.CAUSAL, denoiser_text_tokens=128, prompt_embeds_from=("text_encoder",),
        latents_fp32=True, model_input_copy=True, multiple=32, default_guidance_scale=3.0,
        default_height=512, default_width=704, default_frames=161, default_dtype="bf16",
        source="pipeline_ltx.py: _get_t5_prompt_embeds (padding max_length, max_sequence_length 128), __call__ "
               "(torch.cat([latents] * 2) and [negative, positive] embeddings for CFG, latents float32, the model input "
               "cast to the prompt dtype), check_inputs (height, width divisible by 32), (T - 1) // 8 + 1 latent frames"),
)
