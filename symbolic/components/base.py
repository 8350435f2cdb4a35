"""``ComponentBase``: the header every component class shares, with the defaults of the facts a class declares
about its library class (``symbolic.components.protocol`` says what each component provides).

A class overrides only what its diffusers / transformers class sets, citing it. The switch and quantization models
(``symbolic.switches``) read these declarations; they keep no table of classes of their own.
"""
from __future__ import annotations

from typing import ClassVar


class ComponentBase:
    #: ``"denoiser"``, ``"text_encoder"``, ``"vae"`` or ``"safety_checker"``.
    kind: ClassVar[str] = ""
    #: The library whose class this models: ``"diffusers"`` (a ``ModelMixin``) or ``"transformers"`` (a
    #: ``PreTrainedModel``); decides which loaders, quantizers and hooks apply.
    library: ClassVar[str] = "diffusers"
    #: ``_keep_in_fp32_modules``: modules (one component of the dotted path) kept in float32 under a half-precision
    #: ``from_pretrained(torch_dtype=...)``.
    keep_fp32_modules: ClassVar[tuple[str, ...]] = ()
    #: True where the library keeps them in float32 only for ``torch.float16`` (transformers' T5).
    keep_fp32_only_under_fp16: ClassVar[bool] = False
    #: ``{tensor name: bytes per element}`` of tensors whose dtype the load never changes (non-persistent buffers
    #: built in float32 and absent from the checkpoint, e.g. RoPE tables).
    fixed_dtype_bytes: ClassVar[dict[str, int]] = {}
    #: diffusers ``_skip_layerwise_casting_patterns`` (``enable_layerwise_casting`` adds them to its defaults).
    skip_layerwise_casting_patterns: ClassVar[tuple[str, ...]] = ()
    #: diffusers ``_group_offload_block_modules``: children recursed into as their own block-level scopes.
    group_offload_block_modules: ClassVar[tuple[str, ...]] = ()
    #: diffusers ``_supports_group_offloading`` (``ModelMixin.enable_group_offload`` raises when False).
    supports_group_offloading: ClassVar[bool] = True
    #: GGUF: the top-level modules whose Linear weights the published files quantize (city96 ``tools/lcpp.patch``),
    #: in diffusers names; empty where diffusers cannot load the class from a GGUF file.
    gguf_blocks: ClassVar[tuple[str, ...]] = ()
    #: The multi-device schemes (``ulysses``, ``ring``, ``fsdp``) this class's step is modelled under; empty: one
    #: device only.
    parallel_schemes: ClassVar[tuple[str, ...]] = ()
    #: transformers ``get_keys_to_not_convert(model)``: tied keys, the last parameter's module and the output
    #: embeddings, which its quantizers leave unconverted (checked against the real function on meta in the tests).
    keys_not_converted: ClassVar[tuple[str, ...]] = ()

    def keeps_fp32(self, dtype: str) -> tuple[str, ...]:
        """The modules this load keeps in float32 at ``dtype`` (none at fp32, none of T5's at bf16)."""
        if dtype == "fp32" or (self.keep_fp32_only_under_fp16 and dtype != "fp16"):
            return ()
        return tuple(self.keep_fp32_modules)
