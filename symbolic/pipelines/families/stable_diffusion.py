"""Stable Diffusion 1.x / 2.x and SDXL (``pipeline_stable_diffusion.py``, ``pipeline_stable_diffusion_xl.py``): the pipeline classes of this family as data, each read off its diffusers ``__call__`` /
``encode_prompt`` / ``prepare_latents`` (diffusers 0.3x-0.4x)."""
from __future__ import annotations

from symbolic.pipelines.spec import FrameRule, GuidanceMode, PipelineSpec, TextCall

SPECS = (
    PipelineSpec(
        class_name="StableDiffusionPipeline", denoiser="unet",
        # __init__'s annotations: the classes this pipeline takes for its denoiser and its VAE.
        denoiser_class="UNet2DConditionModel", vae_class="AutoencoderKL",
        text_calls=(TextCall("text_encoder", 77, 77),),
        guidance=GuidanceMode.BATCHED, frame_rule=FrameRule.IMAGE, denoiser_text_tokens=77, prompt_embeds_from=("text_encoder",),
        latents_fp32=False, model_input_copy=True, multiple=8, default_guidance_scale=7.5,
        default_height=None, default_width=None, default_frames=None, default_dtype="fp16",
        tasks=("txt2img", "img2img"), attention_processors=True, chunked_prompts=True,
        source="pipeline_stable_diffusion.py (img2img: pipeline_stable_diffusion_img2img.py prepare_latents): "
               "encode_prompt (padding max_length 77, last hidden state), __call__ "
               "(torch.cat([latents] * 2), torch.cat([negative_prompt_embeds, prompt_embeds])), check_inputs "
               "(multiples of 8), default size unet.config.sample_size x vae_scale_factor. txt2img; the safety checker "
               "is loaded where model_index.json has one, its call is not modelled on this path"),

    PipelineSpec(
        class_name="StableDiffusionXLPipeline", denoiser="unet",
        # __init__'s annotations: the classes this pipeline takes for its denoiser and its VAE.
        denoiser_class="UNet2DConditionModel", vae_class="AutoencoderKL",
        text_calls=(TextCall("text_encoder", 77, 77), TextCall("text_encoder_2", 77, 77)),
        guidance=GuidanceMode.BATCHED, frame_rule=FrameRule.IMAGE, denoiser_text_tokens=77,
        prompt_embeds_from=("text_encoder", "text_encoder_2"),
        latents_fp32=False, model_input_copy=True, multiple=8, default_guidance_scale=5.0,
        default_height=None, default_width=None, default_frames=None, default_dtype="fp16",
        encodes_negative_prompt=False, vae_upcast=True, tasks=("txt2img", "img2img"), attention_processors=True, chunked_prompts=True,
        source="pipeline_stable_diffusion_xl.py (img2img: pipeline_stable_diffusion_xl_img2img.py prepare_latents, "
               "which upcasts the VAE for the encode too): encode_prompt (both CLIP encoders with output_hidden_states, "
               "hidden_states[-2] concatenated to 2048 wide; force_zeros_for_empty_prompt: no negative encoding), "
               "__call__ (one batched 2N forward; upcast_vae when the VAE is float16 and force_upcast), check_inputs "
               "(multiples of 8)"),
)
