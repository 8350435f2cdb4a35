"""HunyuanVideo (``pipeline_hunyuan_video.py``): the pipeline classes of this family as data, each read off its diffusers ``__call__`` /
``encode_prompt`` / ``prepare_latents`` (diffusers 0.3x-0.4x)."""
from __future__ import annotations

from symbolic.pipelines.spec import FrameRule, GuidanceMode, PipelineSpec, TextCall

SPECS = (
    PipelineSpec(
        class_name="HunyuanVideoPipeline", denoiser="transformer",
        # __init__'s annotations: the classes this pipeline takes for its denoiser and its VAE.
        denoiser_class="HunyuanVideoTransformer3DModel", vae_class="AutoencoderKLHunyuanVideo",
        # _get_llama_prompt_embeds: max_sequence_length 256 plus the template's crop_start (95 tokens) go into LLaMA;
        # the first 95 output positions are cropped away. CLIP (77 tokens) gives the pooled embedding only.
        text_calls=(TextCall("text_encoder", 256 + 95, 256), TextCall("text_encoder_2", 77, 0)),
        guidance=GuidanceMode.DISTILLED, frame_rule=FrameRule.CAUSAL, denoiser_text_tokens=256, prompt_embeds_from=("text_encoder",),
        latents_fp32=True, model_input_copy=True, multiple=16, default_guidance_scale=6.0,
        default_height=720, default_width=1280, default_frames=129, default_dtype="bf16",
        source="pipeline_hunyuan_video.py: encode_prompt (LLaMA with prompt template, CLIP pooled), __call__ "
               "(guidance as an embedding input, one pass; true_cfg_scale not modelled), latents float32"),
)
