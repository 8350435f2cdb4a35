"""Qwen-Image (``pipeline_qwenimage.py``): the pipeline classes of this family as data, each read off its diffusers ``__call__`` /
``encode_prompt`` / ``prepare_latents`` (diffusers 0.3x-0.4x)."""
from __future__ import annotations

from symbolic.pipelines.spec import FrameRule, GuidanceMode, PipelineSpec, TextCall

SPECS = (
    PipelineSpec(
        class_name="QwenImagePipeline", denoiser="transformer",
        # __init__'s annotations: the classes this pipeline takes for its denoiser and its VAE.
        denoiser_class="QwenImageTransformer2DModel", vae_class="AutoencoderKLQwenImage",
        # The system template's 34 tokens are dropped after encoding; the prompt is cut to max_sequence_length (512).
        # Tokenization pads to the longest prompt, so a prompt's length varies: 512 kept tokens is the upper bound.
        text_calls=(TextCall("text_encoder", 34 + 512, 512),),
        guidance=GuidanceMode.SEPARATE, frame_rule=FrameRule.IMAGE, denoiser_text_tokens=512, prompt_embeds_from=("text_encoder",),
        latents_fp32=False, model_input_copy=False, multiple=16, default_guidance_scale=4.0,
        default_height=1024, default_width=1024, default_frames=None, default_dtype="bf16",
        source="pipeline_qwenimage.py: _get_qwen_prompt_embeds (template, drop_idx 34, hidden_states[-1]), __call__ "
               "(true CFG: conditional then unconditional forward when true_cfg_scale > 1 with a negative prompt; "
               "guidance_scale here stands for true_cfg_scale, the docs' example uses 4.0 and negative_prompt ' '), "
               "prepare_latents (packed 2 x 2, prompt dtype, passed as they are)"),
)
