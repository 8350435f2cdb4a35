"""The pipeline classes modelled, as data (``symbolic.pipelines.spec.PipelineSpec``), each read off its diffusers
``__call__`` / ``encode_prompt`` / ``prepare_latents`` (diffusers 0.3x-0.4x)."""
from __future__ import annotations

from symbolic.pipelines.spec import PipelineSpec, TextCall, register_spec

register_spec(PipelineSpec(
    class_name="CogVideoXPipeline", denoiser="transformer",
    text_calls=(TextCall("text_encoder", 226, 226),),
    guidance="batched", frame_rule="causal", denoiser_text_tokens=226, prompt_embeds_from="text_encoder",
    latents_fp32=False, model_input_copy=True, multiple=16, default_guidance_scale=6.0,
    default_height=480, default_width=720, default_frames=49, default_dtype="bf16",
    source="pipeline_cogvideox.py: _get_t5_prompt_embeds (max_sequence_length 226, padding max_length), "
           "__call__ (torch.cat([latents] * 2) for CFG), prepare_latents ((T - 1) // 4 + 1 latent frames); "
           "multiple of 16: the transformer's 2 x 2 patch needs an even latent side"))

register_spec(PipelineSpec(
    class_name="WanPipeline", denoiser="transformer",
    text_calls=(TextCall("text_encoder", 512, 512),),
    guidance="separate", frame_rule="wan", denoiser_text_tokens=512, prompt_embeds_from="text_encoder",
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
    guidance="distilled", frame_rule="causal", denoiser_text_tokens=256, prompt_embeds_from="text_encoder",
    latents_fp32=True, model_input_copy=True, multiple=16, default_guidance_scale=6.0,
    default_height=720, default_width=1280, default_frames=129, default_dtype="bf16",
    source="pipeline_hunyuan_video.py: encode_prompt (LLaMA with prompt template, CLIP pooled), __call__ "
           "(guidance as an embedding input, one pass; true_cfg_scale not modelled), latents float32"))
