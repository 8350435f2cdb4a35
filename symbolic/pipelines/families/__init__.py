"""The pipeline classes modelled, as data (``symbolic.pipelines.spec.PipelineSpec``), each read off its diffusers
``__call__`` / ``encode_prompt`` / ``prepare_latents`` (diffusers 0.3x-0.4x)."""
from __future__ import annotations

from symbolic.pipelines.spec import PipelineSpec, TextCall, register_spec

register_spec(PipelineSpec(
    class_name="CogVideoXPipeline", denoiser="transformer",
    text_calls=(TextCall("text_encoder", 226, 226),),
    guidance="batched", frame_rule="causal", denoiser_text_tokens=226, prompt_embeds_from=("text_encoder",),
    latents_fp32=False, model_input_copy=True, multiple=16, default_guidance_scale=6.0,
    default_height=480, default_width=720, default_frames=49, default_dtype="bf16",
    source="pipeline_cogvideox.py: _get_t5_prompt_embeds (max_sequence_length 226, padding max_length), "
           "__call__ (torch.cat([latents] * 2) for CFG), prepare_latents ((T - 1) // 4 + 1 latent frames); "
           "multiple of 16: the transformer's 2 x 2 patch needs an even latent side"))

register_spec(PipelineSpec(
    class_name="WanPipeline", denoiser="transformer",
    text_calls=(TextCall("text_encoder", 512, 512),),
    guidance="separate", frame_rule="wan", denoiser_text_tokens=512, prompt_embeds_from=("text_encoder",),
    latents_fp32=True, model_input_copy=True, multiple=16, default_guidance_scale=5.0,
    default_height=480, default_width=832, default_frames=81, default_dtype="bf16",
    source="pipeline_wan.py: _get_t5_prompt_embeds (max_sequence_length 512), __call__ (conditional then "
           "unconditional forward, latents float32, latent_model_input = latents.to(transformer_dtype)), "
           "num_frames rounded to 4k + 1"))

register_spec(PipelineSpec(
    class_name="HunyuanVideoPipeline", denoiser="transformer",
    # _get_llama_prompt_embeds: max_sequence_length 256 plus the template's crop_start (95 tokens) go into LLaMA;
    # the first 95 output positions are cropped away. CLIP (77 tokens) gives the pooled embedding only.
    text_calls=(TextCall("text_encoder", 256 + 95, 256), TextCall("text_encoder_2", 77, 0)),
    guidance="distilled", frame_rule="causal", denoiser_text_tokens=256, prompt_embeds_from=("text_encoder",),
    latents_fp32=True, model_input_copy=True, multiple=16, default_guidance_scale=6.0,
    default_height=720, default_width=1280, default_frames=129, default_dtype="bf16",
    source="pipeline_hunyuan_video.py: encode_prompt (LLaMA with prompt template, CLIP pooled), __call__ "
           "(guidance as an embedding input, one pass; true_cfg_scale not modelled), latents float32"))

register_spec(PipelineSpec(
    class_name="LTXPipeline", denoiser="transformer",
    text_calls=(TextCall("text_encoder", 128, 128),),
    guidance="batched", frame_rule="causal", denoiser_text_tokens=128, prompt_embeds_from=("text_encoder",),
    latents_fp32=True, model_input_copy=True, multiple=32, default_guidance_scale=3.0,
    default_height=512, default_width=704, default_frames=161, default_dtype="bf16",
    source="pipeline_ltx.py: _get_t5_prompt_embeds (padding max_length, max_sequence_length 128), __call__ "
           "(torch.cat([latents] * 2) and [negative, positive] embeddings for CFG, latents float32, the model input "
           "cast to the prompt dtype), check_inputs (height, width divisible by 32), (T - 1) // 8 + 1 latent frames"))

register_spec(PipelineSpec(
    class_name="FluxPipeline", denoiser="transformer",
    # CLIP (77 tokens, padded) gives only the pooled vector (B x 768, negligible); T5 the sequence.
    text_calls=(TextCall("text_encoder", 77, 0), TextCall("text_encoder_2", 512, 512)),
    guidance="distilled", frame_rule="image", denoiser_text_tokens=512, prompt_embeds_from=("text_encoder_2",),
    latents_fp32=False, model_input_copy=False, multiple=16, default_guidance_scale=3.5,
    default_height=1024, default_width=1024, default_frames=None, default_dtype="bf16",
    source="pipeline_flux.py: _get_clip_prompt_embeds (pooler_output), _get_t5_prompt_embeds (max_sequence_length "
           "512 by default for dev and schnell), __call__ (guidance as an embedding input, one forward of batch B; "
           "true CFG only with a negative prompt and true_cfg_scale > 1, not modelled), prepare_latents (packed "
           "2 x 2 latents in the prompt dtype, passed as they are), no VAE upcast; check_inputs only warns off "
           "multiples of 16 and floors, refused here"))

register_spec(PipelineSpec(
    class_name="QwenImagePipeline", denoiser="transformer",
    # The system template's 34 tokens are dropped after encoding; the prompt is cut to max_sequence_length (512).
    # Tokenization pads to the longest prompt, so a prompt's length varies: 512 kept tokens is the upper bound.
    text_calls=(TextCall("text_encoder", 34 + 512, 512),),
    guidance="separate", frame_rule="image", denoiser_text_tokens=512, prompt_embeds_from=("text_encoder",),
    latents_fp32=False, model_input_copy=False, multiple=16, default_guidance_scale=4.0,
    default_height=1024, default_width=1024, default_frames=None, default_dtype="bf16",
    source="pipeline_qwenimage.py: _get_qwen_prompt_embeds (template, drop_idx 34, hidden_states[-1]), __call__ "
           "(true CFG: conditional then unconditional forward when true_cfg_scale > 1 with a negative prompt; "
           "guidance_scale here stands for true_cfg_scale, the docs' example uses 4.0 and negative_prompt ' '), "
           "prepare_latents (packed 2 x 2, prompt dtype, passed as they are)"))

register_spec(PipelineSpec(
    class_name="StableDiffusionPipeline", denoiser="unet",
    text_calls=(TextCall("text_encoder", 77, 77),),
    guidance="batched", frame_rule="image", denoiser_text_tokens=77, prompt_embeds_from=("text_encoder",),
    latents_fp32=False, model_input_copy=True, multiple=8, default_guidance_scale=7.5,
    default_height=None, default_width=None, default_frames=None, default_dtype="fp16",
    tasks=("txt2img", "img2img"), attention_processors=True, chunked_prompts=True,
    source="pipeline_stable_diffusion.py (img2img: pipeline_stable_diffusion_img2img.py prepare_latents): "
           "encode_prompt (padding max_length 77, last hidden state), __call__ "
           "(torch.cat([latents] * 2), torch.cat([negative_prompt_embeds, prompt_embeds])), check_inputs "
           "(multiples of 8), default size unet.config.sample_size x vae_scale_factor. txt2img; the safety checker "
           "is loaded where model_index.json has one, its call is not modelled on this path"))

register_spec(PipelineSpec(
    class_name="StableDiffusionXLPipeline", denoiser="unet",
    text_calls=(TextCall("text_encoder", 77, 77), TextCall("text_encoder_2", 77, 77)),
    guidance="batched", frame_rule="image", denoiser_text_tokens=77,
    prompt_embeds_from=("text_encoder", "text_encoder_2"),
    latents_fp32=False, model_input_copy=True, multiple=8, default_guidance_scale=5.0,
    default_height=None, default_width=None, default_frames=None, default_dtype="fp16",
    encodes_negative_prompt=False, vae_upcast=True, tasks=("txt2img", "img2img"), attention_processors=True, chunked_prompts=True,
    source="pipeline_stable_diffusion_xl.py (img2img: pipeline_stable_diffusion_xl_img2img.py prepare_latents, "
           "which upcasts the VAE for the encode too): encode_prompt (both CLIP encoders with output_hidden_states, "
           "hidden_states[-2] concatenated to 2048 wide; force_zeros_for_empty_prompt: no negative encoding), "
           "__call__ (one batched 2N forward; upcast_vae when the VAE is float16 and force_upcast), check_inputs "
           "(multiples of 8)"))

register_spec(PipelineSpec(
    class_name="StableDiffusion3Pipeline", denoiser="transformer",
    # Both CLIP encoders keep hidden_states[-2] (77 tokens); their concatenation is zero-padded to T5's 4096 width
    # and joined with T5's 256 tokens: 333 joint tokens x 4096.
    text_calls=(TextCall("text_encoder", 77, 77), TextCall("text_encoder_2", 77, 77),
                TextCall("text_encoder_3", 256, 256, optional=True)),
    guidance="batched", frame_rule="image", denoiser_text_tokens=77 + 256, prompt_embeds_from=("text_encoder_3",),
    latents_fp32=False, model_input_copy=True, multiple=16, default_guidance_scale=7.0,
    default_height=None, default_width=None, default_frames=None, default_dtype="bf16",
    source="pipeline_stable_diffusion_3.py: _get_clip_prompt_embeds (max_length 77, output_hidden_states, "
           "hidden_states[-2]), _get_t5_prompt_embeds (max_sequence_length 256), encode_prompt (CLIP widths padded "
           "to 4096, 77 + 256 tokens; without text_encoder_3 zeros of max_sequence_length x joint_attention_dim on the "
           "device), __call__ (one batched 2N forward), check_inputs (multiples of vae scale x "
           "patch = 16); the VAE's force_upcast is not read"))
