"""What a value in a component's ``config.json`` may be, key by key, checked where a component reads it.

A config folder is input from anyone: a size of ``-1``, ``0``, ``"64"``, ``64.5``, ``true``, ``1e30`` or ``-1e40``
must be refused naming the file and the key, never turned into negative bytes, an absurd tensor list or a crash.
``KINDS`` says, for every key the component classes read, what diffusers' / transformers' ``__init__`` takes
there (sizes and counts are positive integers; flags booleans; names strings; ...); ``CheckedConfig`` is the dict
the components see, checking each value as it is read (keys no component reads are kept and never checked: they
change nothing). Nested configs (``text_config``, ``vision_config``) are checked the same way.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping

from symbolic.core.checks import shown

#: Largest size a config may hold: far above any real model's (vocabularies of ~10**5, widths of ~10**4).
MAX_COUNT = 2**20
#: Largest count of repeated layers or blocks (and longest list): real models have at most ~100, and the tensor
#: list an estimate builds grows with them (a budget on the work of one estimate).
MAX_REPEATS = 4096

COUNT = "a positive integer"
REPEATS = "a positive integer count of layers"
COUNTS = "a non-empty list of positive integers"
COUNT_OR_COUNTS = "a positive integer or a list of them"
INDICES = "a list of integers >= 0"
FLAG = "true or false"
FLAGS = "a list of true / false"
NAME = "a string"
NAMES = "a list of strings"
RATIO = "a positive finite number"
RATIOS = "a list of positive finite numbers"
SECTION = "an object"
OPTIONAL = " or null"

#: Key -> the kind of value the component classes read there (``OPTIONAL`` appended where null is the class
#: default). Checked against every bundled config by ``tests/components/test_config_values.py``.
KINDS: dict[str, str] = {
    **dict.fromkeys((
        "base_dim", "caption_channels", "caption_projection_dim", "concept_embeds", "conv_in_kernel",
        "conv_out_kernel", "cross_attention_dim", "d_ff", "d_kv", "d_model", "ffn_dim", "freq_dim", "head_dim",
        "hidden_size", "in_channels", "intermediate_size", "joint_attention_dim", "latent_channels",
        "max_position_embeddings", "max_text_seq_length", "norm_num_groups", "num_heads", "num_hidden_layers",
        "num_key_value_heads", "num_single_layers",
        "out_channels", "pooled_projection_dim", "pos_embed_max_size", "projection_class_embeddings_input_dim",
        "projection_dim", "relative_attention_num_buckets", "rope_max_seq_len", "sample_frames", "sample_height",
        "sample_width", "spatial_compression_ratio", "special_care_embeds", "temporal_compression_ratio",
        "text_dim", "text_embed_dim", "time_embed_dim", "vocab_size", "z_dim", "sample_size"), COUNT),
    **dict.fromkeys(("num_hidden_layers", "num_layers", "num_refiner_layers", "num_res_blocks", "num_single_layers"),
                    REPEATS),
    **dict.fromkeys(("num_attention_heads", "patch_size_t", "encoder_hid_dim", "time_cond_proj_dim",
                     "time_embedding_dim", "num_class_embeds", "ofs_embed_dim", "image_dim"), COUNT + OPTIONAL),
    **dict.fromkeys(("block_out_channels", "dim_mult", "transformer_layers_per_block"), COUNTS),
    **dict.fromkeys(("attention_head_dim", "layers_per_block"), COUNT_OR_COUNTS),
    "patch_size": COUNT_OR_COUNTS + OPTIONAL,
    "dual_attention_layers": INDICES,
    **dict.fromkeys((
        "attention_bias", "attention_out_bias", "class_embeddings_concat", "cross_attn_norm", "dual_cross_attention",
        "guidance_embeds", "is_residual", "mid_block_add_attention", "mlp_bias", "norm_elementwise_affine",
        "only_cross_attention", "patch_bias", "tie_word_embeddings", "use_learned_positional_embeddings",
        "use_linear_projection", "use_post_quant_conv", "use_quant_conv", "use_rotary_positional_embeddings"), FLAG),
    **dict.fromkeys(("spatio_temporal_scaling", "temperal_downsample"), FLAGS),
    **dict.fromkeys(("_class_name", "activation_fn", "addition_embed_type", "feed_forward_proj", "mid_block_type",
                     "model_type", "qk_norm", "resnet_time_scale_shift", "time_embedding_type"), NAME),
    **dict.fromkeys(("class_embed_type", "encoder_hid_dim_type"), NAME + OPTIONAL),
    **dict.fromkeys(("architectures", "down_block_types", "up_block_types"), NAMES),
    "mlp_ratio": RATIO,
    "attn_scales": RATIOS,
    **dict.fromkeys(("text_config", "vision_config"), SECTION),
}


def _count(value, limit: int = MAX_COUNT) -> bool:
    return type(value) is int and 1 <= value <= limit


def _fits(value, kind: str) -> bool:
    if kind.endswith(OPTIONAL):
        return value is None or _fits(value, kind.removesuffix(OPTIONAL))
    if kind == COUNT:
        return _count(value)
    if kind == REPEATS:
        return _count(value, MAX_REPEATS)
    if kind == COUNTS:
        return type(value) is list and 1 <= len(value) <= MAX_REPEATS and all(_count(v) for v in value)
    if kind == COUNT_OR_COUNTS:
        return _count(value) or _fits(value, COUNTS)
    if kind == INDICES:
        return type(value) is list and len(value) <= MAX_REPEATS and all(type(v) is int and 0 <= v < MAX_REPEATS
                                                                          for v in value)
    if kind == FLAG:
        return type(value) is bool
    if kind == FLAGS:
        return type(value) is list and all(type(v) is bool for v in value)
    if kind == NAME:
        return type(value) is str
    if kind == NAMES:
        return type(value) is list and all(type(v) is str for v in value)
    if kind == RATIO:
        return type(value) in (int, float) and math.isfinite(value) and 0 < value <= MAX_COUNT
    if kind == RATIOS:
        return type(value) is list and len(value) <= MAX_REPEATS and all(_fits(v, RATIO) for v in value)
    if kind == SECTION:
        return isinstance(value, Mapping)
    raise AssertionError(kind)


def _as_json(value) -> str:
    """A value as the JSON file spells it (``true``, ``null``, ``"64"``), shortened to one readable line."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        return shown(value)
    return text if len(text) <= 60 else f"{text[:45]}... ({len(text)} characters)"


class CheckedConfig(dict):
    """A component's ``config.json`` (a dict) whose values are checked against ``KINDS`` when read: a value of the
    wrong kind is a ``ValueError`` naming the file and the key."""

    def __init__(self, config: Mapping, where: str):
        super().__init__(config)
        self.where = where

    def _checked(self, key, value):
        kind = KINDS.get(key)
        if kind is not None and not _fits(value, kind):
            bound = (f" (at most {MAX_REPEATS})" if kind == REPEATS else
                     f" (at most {MAX_COUNT})" if "integer" in kind else "")
            raise ValueError(f"{self.where}: {key}: must be {kind}{bound}, got {_as_json(value)}")
        if isinstance(value, Mapping) and not isinstance(value, CheckedConfig):
            return CheckedConfig(value, f"{self.where} {key}")
        return value

    def __getitem__(self, key):
        return self._checked(key, super().__getitem__(key))

    def get(self, key, default=None):
        return self._checked(key, super().__getitem__(key)) if key in self else default
