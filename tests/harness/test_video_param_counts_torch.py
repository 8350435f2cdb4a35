"""Cross-checks of the video model against the real diffusers / transformers classes, on the ``meta`` device (no
memory, no weights, no network). Skipped when torch, diffusers or transformers are missing.

1. Parameter + buffer counts: every class instantiated from the same config JSON as ``symbolic/arch`` (the three
   counts the model must hit exactly: CogVideoX-2B transformer 1,727,913,792, Wan 2.1 1.3B transformer
   1,419,258,944, CogVideoX VAE 215,583,907).
2. Parameter names and the fp32-kept subsets (diffusers' / transformers' ``_keep_in_fp32_modules``).
3. Live-bytes traces: the real forward passes under a ``TorchDispatchMode`` that counts every output storage
   (512-byte rounding) until it dies, with SDPA replaced by a flash-like stub (output + log-sum-exp) or run through
   aten's math implementation. The transformer-step moments and the VAE-decode moments of ``symbolic/arch`` must
   match the traced peaks (the trace is what the GPU allocates for tensors; CUDA-side workspaces are not in it).
"""
from __future__ import annotations

import weakref

import pytest
import sympy as sp

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")

from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils._pytree import tree_flatten  # noqa: E402

from symbolic.components.clip_text import CLIPText  # noqa: E402
from symbolic.components.llama_text import LlamaText  # noqa: E402
from symbolic.components.t5_encoder import T5Encoder  # noqa: E402
from symbolic.components.layers.tensors import numel  # noqa: E402
from symbolic.components.video_vae import CogVideoXVAE, HunyuanVideoVAE, WanVAE  # noqa: E402
from symbolic.components.shapes import DecodeShape, StepShape  # noqa: E402
from symbolic.components.video_transformer import CogVideoXTransformer, HunyuanVideoTransformer, WanTransformer  # noqa: E402
from symbolic.runtime.kernels import MATH_SCORE_BYTES  # noqa: E402
from hub_configs import video_config  # noqa: E402

D = diffusers


def _kwargs(config: dict) -> dict:
    return {k: v for k, v in config.items() if not k.startswith("_")}


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters()) + sum(b.numel() for b in module.buffers())


def _meta(cls, config: dict, **override):
    with torch.device("meta"):
        return cls(**{**_kwargs(config), **override})


# --- 1. counts ------------------------------------------------------------------------------------------------------
DIFFUSERS_CASES = [
    ("cogvideox_2b_transformer", "CogVideoXTransformer3DModel", CogVideoXTransformer, 1_727_913_792),
    ("wan2.1_t2v_1.3b_transformer", "WanTransformer3DModel", WanTransformer, 1_419_258_944),
    ("cogvideox_2b_vae", "AutoencoderKLCogVideoX", CogVideoXVAE, 215_583_907),
    ("cogvideox_5b_transformer", "CogVideoXTransformer3DModel", CogVideoXTransformer, None),
    ("wan2.1_t2v_14b_transformer", "WanTransformer3DModel", WanTransformer, None),
    ("hunyuanvideo_transformer", "HunyuanVideoTransformer3DModel", HunyuanVideoTransformer, None),
    ("cogvideox_5b_vae", "AutoencoderKLCogVideoX", CogVideoXVAE, None),
    ("wan2.1_vae", "AutoencoderKLWan", WanVAE, None),
    ("hunyuanvideo_vae", "AutoencoderKLHunyuanVideo", HunyuanVideoVAE, None),
]


@pytest.mark.parametrize("name, cls_name, ours, required", DIFFUSERS_CASES)
def test_diffusers_counts_and_names(name, cls_name, ours, required):
    config = video_config(name)
    real = _meta(getattr(D, cls_name), config)
    arch = ours(config)
    assert _count(real) == numel(arch.tensors)
    if required is not None:
        assert _count(real) == required
    assert {n for n, _ in real.named_parameters()} | {n for n, _ in real.named_buffers()} == \
        {t.name for t in arch.tensors}
    shapes = dict(real.named_parameters()) | dict(real.named_buffers())
    assert all(tuple(shapes[t.name].shape) == t.shape for t in arch.tensors)
    assert tuple(getattr(real, "_keep_in_fp32_modules", None) or ()) == tuple(arch.keep_fp32_modules)


def test_wan_rope_and_cogvideox_table_dtypes():
    """The buffers the model prices at a fixed dtype really have it (they are non-persistent, so from_pretrained's
    torch_dtype never reaches them)."""
    cog = _meta(D.CogVideoXTransformer3DModel, video_config("cogvideox_2b_transformer"))
    assert cog.patch_embed.pos_embedding.dtype == torch.float64
    wan = _meta(D.WanTransformer3DModel, video_config("wan2.1_t2v_1.3b_transformer"))
    assert {n: b.dtype for n, b in wan.named_buffers()} == {"rope.freqs_cos": torch.float32,
                                                            "rope.freqs_sin": torch.float32}


@pytest.mark.parametrize("name, cls_name, ours", [
    ("t5_v1_1_xxl_encoder", "T5EncoderModel", T5Encoder),
    ("umt5_xxl_encoder", "UMT5EncoderModel", T5Encoder),
    ("hunyuanvideo_llama_text_encoder", "LlamaModel", LlamaText),
    ("hunyuanvideo_clip_text_encoder", "CLIPTextModel", CLIPText),
])
def test_transformers_counts(name, cls_name, ours):
    config = video_config(name)
    cls = getattr(transformers, cls_name)
    config_cls = cls.config_class
    with torch.device("meta"):
        real = cls(config_cls(**_kwargs(config)))
    assert _count(real) == numel(ours(config).tensors)
    if cls_name in ("T5EncoderModel", "UMT5EncoderModel"):
        assert set(real._keep_in_fp32_modules) == set(T5Encoder.keep_fp32_modules)


# --- 3. live-bytes traces ---------------------------------------------------------------------------------------------
def _round(n: int) -> int:
    return max(512, -(-n // 512) * 512) if n else 0


class LiveBytes(TorchDispatchMode):
    """Bytes of the storages created inside the mode and still referenced (storage-level refcounts)."""

    def __init__(self):
        super().__init__()
        self.live: dict[int, list] = {}
        self.current = self.peak = 0

    def _free(self, sid: int) -> None:
        entry = self.live.get(sid)
        if entry is not None:
            entry[1] -= 1
            if entry[1] == 0:
                self.current -= entry[0]
                del self.live[sid]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {a.untyped_storage()._cdata for a in tree_flatten((args, kwargs))[0] if isinstance(a, torch.Tensor)}
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor):
                continue
            sid = t.untyped_storage()._cdata
            if sid in inputs and sid not in self.live:
                continue
            if sid in self.live:
                self.live[sid][1] += 1
            else:
                self.live[sid] = [_round(t.untyped_storage().nbytes()), 1]
                self.current += self.live[sid][0]
                self.peak = max(self.peak, self.current)
            weakref.finalize(t, self._free, sid)
        return out


@pytest.fixture
def sdpa(monkeypatch):
    """Select how ``F.scaled_dot_product_attention`` behaves: ``flash`` (output in flash's (B, N, h, d) layout plus a
    float32 log-sum-exp) or ``math`` (aten's math kernel, traced op by op)."""
    def use(kind: str):
        def flash(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
            b_, h_, n_ = query.shape[:-1]
            out = query.new_empty((b_, n_, h_, value.shape[-1])).transpose(1, 2)
            torch.empty(query.shape[:-1], dtype=torch.float32, device=query.device)
            return out

        def math(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
            return torch.ops.aten._scaled_dot_product_attention_math(query, key, value, attn_mask, dropout_p,
                                                                       is_causal, scale=scale, enable_gqa=enable_gqa)[0]
        monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", flash if kind == "flash" else math)
    return use


def _cast(module, dtype, keep=()):
    """``from_pretrained(torch_dtype=dtype)``: floating parameters and buffers cast, except kept-fp32 modules and
    non-persistent buffers (which keep their init dtype)."""
    for name, mod in module.named_modules():
        for pname, param in list(mod.named_parameters(recurse=False)):
            full = f"{name}.{pname}" if name else pname
            if not any(k in full.split(".") for k in keep):
                mod._parameters[pname] = torch.nn.Parameter(param.to(dtype), requires_grad=False)
        for bname in list(mod._buffers):
            if bname not in mod._non_persistent_buffers_set and mod._buffers[bname] is not None \
                    and mod._buffers[bname].is_floating_point():
                mod._buffers[bname] = mod._buffers[bname].to(dtype)
    return module


def _ours(arch, shape: StepShape) -> int:
    peak = sp.Max(*arch.moments(shape).values()) + arch.resident_inputs(shape)
    return int(peak)


def _score_mask(batch, heads, n):
    """``kernels.math_sdpa`` counts ``_safe_softmax``'s one-byte mask, measured on an H100: it is made inside the
    CUDA kernel, so the meta trace does not see it."""
    return batch * heads * n * n * (MATH_SCORE_BYTES - 8)


@pytest.mark.parametrize("backend", ["flash", "math"])
@pytest.mark.parametrize("name, frames, h, w", [("cogvideox_2b_transformer", 13, 60, 90),
                                                ("cogvideox_5b_transformer", 13, 60, 90),
                                                ("cogvideox_5b_transformer", 4, 20, 30)])
def test_cogvideox_step_trace(sdpa, backend, name, frames, h, w):
    if backend == "math" and frames == 13:
        pytest.skip("math at full size: covered at the small size")
    sdpa(backend)
    config = video_config(name)
    arch = CogVideoXTransformer(config)
    dtype = torch.float16 if "2b" in name else torch.bfloat16
    real = _cast(_meta(D.CogVideoXTransformer3DModel, config, num_layers=2), dtype)
    n_video = frames * (h // 2) * (w // 2)
    with torch.device("meta"):
        x = torch.empty(2, frames, 16, h, w, dtype=dtype)
        text = torch.empty(2, 226, 4096, dtype=dtype)
        step = torch.empty(2, dtype=torch.long)
    rope = None
    if arch.rope:   # built by the pipeline, outside the transformer (priced in resident_inputs)
        rope = (torch.empty(n_video, arch.head_dim, device="meta"), torch.empty(n_video, arch.head_dim, device="meta"))
    mode = LiveBytes()
    with torch.no_grad(), mode:
        real(hidden_states=x, encoder_hidden_states=text, timestep=step, image_rotary_emb=rope, return_dict=False)
    shape = StepShape(sp.Integer(2), sp.Integer(n_video), sp.Integer(226), sp.Integer(2), backend)
    traced = mode.peak + (_score_mask(2, arch.heads, n_video + 226) if backend == "math" else 0)
    ours = int(sp.Max(*arch.moments(shape).values()))
    assert ours == pytest.approx(traced, rel=0.02)


@pytest.mark.parametrize("backend", ["flash", "math"])
@pytest.mark.parametrize("name", ["wan2.1_t2v_1.3b_transformer", "wan2.1_t2v_14b_transformer"])
def test_wan_step_trace(sdpa, backend, name):
    sdpa(backend)
    config = video_config(name)
    arch = WanTransformer(config)
    frames, h, w = (21, 60, 104) if backend == "flash" else (5, 30, 52)
    real = _cast(_meta(D.WanTransformer3DModel, config, num_layers=2), torch.bfloat16, arch.keep_fp32_modules)
    with torch.device("meta"):
        x = torch.empty(1, 16, frames, h, w, dtype=torch.bfloat16)
        text = torch.empty(1, 512, 4096, dtype=torch.bfloat16)
        step = torch.empty(1, dtype=torch.long)
    mode = LiveBytes()
    with torch.no_grad(), mode:
        real(hidden_states=x, encoder_hidden_states=text, timestep=step, return_dict=False)
    n = frames * (h // 2) * (w // 2)
    shape = StepShape(sp.Integer(1), sp.Integer(n), sp.Integer(512), sp.Integer(2), backend)
    traced = mode.peak + (_score_mask(1, arch.heads, n) if backend == "math" else 0)
    assert _ours(arch, shape) == pytest.approx(traced, rel=0.02)


@pytest.mark.parametrize("backend, frames, h, w", [("flash", 33, 68, 120), ("math", 9, 34, 60)])
def test_hunyuan_step_trace(sdpa, backend, frames, h, w):
    sdpa(backend)
    config = video_config("hunyuanvideo_transformer")
    arch = HunyuanVideoTransformer(config)
    real = _cast(_meta(D.HunyuanVideoTransformer3DModel, config, num_layers=1, num_single_layers=1),
                 torch.bfloat16)
    with torch.device("meta"):
        x = torch.empty(1, 16, frames, h, w, dtype=torch.bfloat16)
        text = torch.empty(1, 256, 4096, dtype=torch.bfloat16)
        mask = torch.ones(1, 256, dtype=torch.bool)
        pooled = torch.empty(1, 768, dtype=torch.bfloat16)
        step = torch.empty(1, dtype=torch.long)
        guidance = torch.empty(1, dtype=torch.bfloat16)
    mode = LiveBytes()
    with torch.no_grad(), mode:
        real(hidden_states=x, timestep=step, encoder_hidden_states=text, encoder_attention_mask=mask,
             pooled_projections=pooled, guidance=guidance, return_dict=False)
    n = frames * (h // 2) * (w // 2)
    shape = StepShape(sp.Integer(1), sp.Integer(n), sp.Integer(256), sp.Integer(2), backend)
    traced = mode.peak + (_score_mask(1, arch.heads, n + 256) if backend == "math" else 0)
    assert _ours(arch, shape) == pytest.approx(traced, rel=0.02)


@pytest.mark.parametrize("name, cls_name, ours, dtype, cases", [
    ("cogvideox_2b_vae", "AutoencoderKLCogVideoX", CogVideoXVAE, torch.float16,
     [(2, 60, 90, False), (4, 60, 90, False), (13, 60, 90, False), (12, 30, 45, False), (8, 40, 60, True)]),
    ("wan2.1_vae", "AutoencoderKLWan", WanVAE, torch.bfloat16, [(3, 60, 104, False), (21, 30, 52, False)]),
    ("wan2.1_vae", "AutoencoderKLWan", WanVAE, torch.float32, [(3, 60, 104, False), (5, 40, 52, True)]),
    ("hunyuanvideo_vae", "AutoencoderKLHunyuanVideo", HunyuanVideoVAE, torch.float16,
     [(3, 30, 40, False), (9, 30, 40, False), (5, 120, 160, False), (9, 40, 48, True)]),
])
def test_vae_decode_trace(sdpa, name, cls_name, ours, dtype, cases):
    """Decode peaks within 2% (tiled: the model holds every decoded tile until the blend and may exceed the trace
    by up to 10%)."""
    sdpa("flash")
    config = video_config(name)
    arch = ours(config)
    real = _cast(_meta(getattr(D, cls_name), config), dtype)
    bytes_ = torch.finfo(dtype).bits // 8
    for t, h, w, tiling in cases:
        if tiling:
            real.enable_tiling()
        else:
            real.use_tiling = False
        with torch.device("meta"):
            z = torch.empty(1, 16, t, h, w, dtype=dtype)
        mode = LiveBytes()
        with torch.no_grad(), mode:
            real.decode(z, return_dict=False)
        shape = DecodeShape(sp.Integer(1), sp.Integer(t), sp.Integer(h), sp.Integer(w), bytes_, tiling=tiling,
                            b_value=bytes_)
        moments = {k: v for k, v in arch.decode_moments(shape).items() if k != "postprocess"}
        model = int(max(int(v) for v in moments.values()))
        if tiling:
            assert mode.peak <= model <= 1.10 * mode.peak, (t, h, w)
        else:
            assert model == pytest.approx(mode.peak, rel=0.02), (t, h, w)


def test_text_encoder_activations_trace(sdpa):
    """Text-encoder activations (tens to hundreds of MB next to 10-15 GB of weights) within 5% of the trace."""
    sdpa("flash")
    cases = [("t5_v1_1_xxl_encoder", "T5EncoderModel", 226, torch.float16),
             ("umt5_xxl_encoder", "UMT5EncoderModel", 512, torch.bfloat16),
             ("hunyuanvideo_llama_text_encoder", "LlamaModel", 351, torch.float16)]
    for name, cls_name, tokens, dtype in cases:
        config = video_config(name)
        cls = getattr(transformers, cls_name)
        layers = {"num_layers": 24} if "t5" in name else {"num_hidden_layers": 32}
        with torch.device("meta"):
            real = cls(cls.config_class(**{**_kwargs(config), **layers}))
        keep = ("wo",) if dtype == torch.float16 and "t5" in name else ()
        _cast(real, dtype, keep)
        with torch.device("meta"):
            ids = torch.zeros(1, tokens, dtype=torch.long)
        mode = LiveBytes()
        with torch.no_grad(), mode:
            real(input_ids=ids, output_hidden_states=cls_name == "LlamaModel")
        if cls_name == "LlamaModel":
            ours = LlamaText(config).activation_bytes(1, tokens, 2)
        else:
            ours = T5Encoder(config).activation_bytes(1, tokens, 2, wo_fp32=bool(keep))
        assert int(ours) == pytest.approx(mode.peak, rel=0.05), name
