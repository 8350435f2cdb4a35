"""Stable Diffusion 3 / 3.5 (``pipeline_stable_diffusion_3.py``): the pipeline classes of this family as data, each read off its diffusers ``__call__`` /
``encode_prompt`` / ``prepare_latents`` (diffusers 0.3x-0.4x)."""
from __future__ import annotations

from symbolic.pipelines.spec import FrameRule, GuidanceMode, PipelineSpec, TextCall

SPECS = (
    PipelineSpec(
        class_name="StableDiffusion3Pipeline", denoiser="transformer",
        # __init__'s annotations: the classes this pipeline takes for its denoiser and its VAE.
        denoiser_class="SD3Transformer2DModel", vae_class="AutoencoderKL",
        # Both CLIP encoders keep hidden_states[-2] (77 tokens); their concatenation is zero-padded to T5's 4096 width
        # and joined with T5's 256 tokens: 333 joint tokens x 4096.
        text_calls=(TextCall("text_encoder", 77, 77), TextCall("text_encoder_2", 77, 77),
                    TextCall("text_encoder_3", 256, 256, optional=True)),
        guidance=GuidanceMode.BATCHED, frame_rule=FrameRule.IMAGE, denoiser_text_tokens=77 + 256, prompt_embeds_from=("text_encoder_3",),
        latents_fp32=False, model_input_copy=True, multiple=16, default_guidance_scale=7.0,
        default_height=None, default_width=None, default_frames=None, default_dtype="bf16",
        source="pipeline_stable_diffusion_3.py: _get_clip_prompt_embeds (max_length 77, output_hidden_states, "
               "hidden_states[-2]), _get_t5_prompt_embeds (max_sequence_length 256), encode_prompt (CLIP widths padded "
               "to 4096, 77 + 256 tokens; without text_encoder_3 zeros of max_sequence_length x joint_attention_dim on the "
               "device), __call__ (one batched 2N forward), check_inputs (multiples of vae scale x "
               "patch = 16); the VAE's force_upcast is not read"),
)
