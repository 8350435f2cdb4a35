"""The SD 1.5 components built from the shipped configs (``symbolic/configs/sd15``), once."""
from __future__ import annotations

from functools import lru_cache

from symbolic.arch.autoencoder_kl import AutoencoderKL
from symbolic.arch.clip import CLIPText, SafetyChecker
from symbolic.arch.tensors import load_config
from symbolic.arch.unet2d import UNet2DCondition


@lru_cache(maxsize=None)
def unet() -> UNet2DCondition:
    return UNet2DCondition(load_config("sd15", "unet"))


@lru_cache(maxsize=None)
def vae() -> AutoencoderKL:
    return AutoencoderKL(load_config("sd15", "vae"))


@lru_cache(maxsize=None)
def text_encoder() -> CLIPText:
    return CLIPText(load_config("sd15", "text_encoder"))


@lru_cache(maxsize=None)
def safety_checker() -> SafetyChecker:
    return SafetyChecker(load_config("sd15", "safety_checker"))


@lru_cache(maxsize=None)
def tokenizer() -> dict:
    return load_config("sd15", "tokenizer")
