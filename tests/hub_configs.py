"""The bundled video configs by the short names the video tests have used since before the Hub layout."""
from __future__ import annotations

from symbolic.pipelines.catalog import hub_config

VIDEO_CONFIGS = {
    "cogvideox_2b_transformer": "THUDM/CogVideoX-2b/transformer",
    "cogvideox_5b_transformer": "THUDM/CogVideoX-5b/transformer",
    "cogvideox_2b_vae": "THUDM/CogVideoX-2b/vae",
    "cogvideox_5b_vae": "THUDM/CogVideoX-5b/vae",
    "t5_v1_1_xxl_encoder": "THUDM/CogVideoX-2b/text_encoder",
    "wan2.1_t2v_1.3b_transformer": "Wan-AI/Wan2.1-T2V-1.3B-Diffusers/transformer",
    "wan2.1_t2v_14b_transformer": "Wan-AI/Wan2.1-T2V-14B-Diffusers/transformer",
    "wan2.1_vae": "Wan-AI/Wan2.1-T2V-1.3B-Diffusers/vae",
    "umt5_xxl_encoder": "Wan-AI/Wan2.1-T2V-1.3B-Diffusers/text_encoder",
    "hunyuanvideo_transformer": "hunyuanvideo-community/HunyuanVideo/transformer",
    "hunyuanvideo_vae": "hunyuanvideo-community/HunyuanVideo/vae",
    "hunyuanvideo_llama_text_encoder": "hunyuanvideo-community/HunyuanVideo/text_encoder",
    "hunyuanvideo_clip_text_encoder": "hunyuanvideo-community/HunyuanVideo/text_encoder_2",
}


def video_config(name: str) -> dict:
    return hub_config(VIDEO_CONFIGS[name.removesuffix(".json")])
