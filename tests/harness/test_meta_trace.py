"""The CPU cross-check witness: live storage bytes of modules executed on the ``meta`` device."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from symbolic.harness import meta_trace as mt  # noqa: E402

MiB = 2**20
GiB = 2**30


def meta(*shape, dtype=torch.float32):
    return torch.empty(*shape, dtype=dtype, device="meta")


# ------------------------------------------------------------------------------------------ machinery


def test_plain_conv_net_peak_by_hand():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 3, padding=1)).to("meta")
    x = meta(1, 3, 32, 32)
    r = mt.trace_module(lambda: net(x), root=net, record_timeline=True)
    conv1 = relu = 8 * 32 * 32 * 4  # fp32
    conv2 = 4 * 32 * 32 * 4
    # conv1's output is alive while ReLU writes its own; Sequential drops it before conv2
    assert r.peak_bytes == conv1 + relu == 65536
    assert r.end_bytes == conv2  # the returned tensor; weights and the input were never counted
    assert r.num_allocations == 3
    assert r.allocated_bytes == conv1 + relu + conv2
    assert r.peak_op == "aten.relu.default" and r.peak_module == "1"
    assert sorted((b.op, b.module) for b in r.live_at_peak) == [
        ("aten.convolution.default", "0"), ("aten.relu.default", "1")]
    assert [e[0] for e in r.timeline] == ["+", "+", "-", "+", "-"]
    assert r.timeline[-1][4] == conv2


def test_rounding_to_512_bytes():
    r = mt.trace_module(lambda: torch.empty(1, device="meta"))
    assert r.peak_bytes == 512
    r = mt.trace_module(lambda: torch.empty(129, device="meta"))  # 516 bytes
    assert r.peak_bytes == 1024
    r = mt.trace_module(lambda: torch.empty(0, device="meta"))
    assert r.peak_bytes == 0 and r.num_allocations == 0


def test_views_and_inplace_allocate_nothing():
    def fn():
        x = torch.empty(1000, device="meta")  # 4000 B -> 4096
        v = x.view(10, 100)
        x.add_(1)
        y = v.t()
        z = x[::2]
        return y, z

    r = mt.trace_module(fn)
    assert r.peak_bytes == 4096 and r.num_allocations == 1 and r.end_bytes == 4096


def test_storage_freed_when_last_view_dies():
    def fn():
        a = torch.empty(256, device="meta")  # 1 KiB
        v = a[1:]
        del a  # the view keeps the storage alive
        b = torch.empty(256, device="meta")
        c = torch.empty(256, device="meta")  # a, b, c: 3 KiB
        del v  # now a's storage dies
        d = torch.empty(256, device="meta")  # b, c, d: 3 KiB
        return b, c, d

    r = mt.trace_module(fn, record_timeline=True)
    assert r.peak_bytes == 3 * 1024
    assert r.end_bytes == 3 * 1024
    assert [e[0] for e in r.timeline] == ["+", "+", "+", "-", "+"]


def test_parameters_and_inputs_not_counted():
    lin = nn.Linear(64, 32).to("meta")
    x = meta(16, 64)
    r = mt.trace_module(lambda: lin(x))
    assert r.peak_bytes == 16 * 32 * 4  # only the output (addmm), not the 8 KiB weight nor the input


def test_composite_ops_are_decomposed_under_inference_mode():
    # F.linear on a 3-D input is composite (matmul -> view/mm): the mode sees the primitive ops
    lin = nn.Linear(8, 8, bias=False).to("meta")
    x = meta(2, 3, 8)
    r = mt.trace_module(lambda: lin(x), record_timeline=True)
    assert r.timeline and all("linear" not in e[1] for e in r.timeline)


def test_sdpa_backends():
    q = meta(1, 2, 64, 16, dtype=torch.float16)
    out = 1 * 2 * 64 * 16 * 2

    def run(backend):
        return mt.trace_module(lambda: F.scaled_dot_product_attention(q, q, q), sdpa_backend=backend)

    eff, flash, math_, meta_default, cuda_default = (run(b) for b in ("efficient", "flash", "math", None, "default"))
    assert eff.peak_bytes == out  # output only: no logsumexp without gradients, seed/offset live on the host
    assert flash.peak_bytes == out + 512  # + fp32 logsumexp (1 x 2 x 64 x 4 B, rounded)
    assert cuda_default.peak_bytes == flash.peak_bytes  # fp16, head_dim 16, no mask: flash
    # math: fp32 upcast of q, k, v and an N x N fp32 score matrix (twice: scores and softmax) + the bool mask
    assert math_.peak_bytes == meta_default.peak_bytes
    assert math_.peak_bytes >= 2 * (2 * 64 * 64 * 4) + 2 * 64 * 64
    q32 = meta(1, 2, 64, 16)
    r = mt.trace_module(lambda: F.scaled_dot_product_attention(q32, q32, q32), sdpa_backend="default")
    assert r.peak_bytes == 2 * out  # fp32: the memory-efficient kernel
    with pytest.raises(ValueError):
        mt.LiveBytesMode(sdpa_backend="xformers")


def test_workspace_hook_counts_transient_bytes():
    net = nn.Conv2d(3, 8, 3, padding=1).to("meta")
    x = meta(1, 3, 32, 32)

    def ws(func, args, kwargs, out):
        return 10_000 if func is torch.ops.aten.convolution.default else 0

    r = mt.trace_module(lambda: net(x), workspace=ws)
    assert r.peak_bytes == 8 * 32 * 32 * 4 + 10_240
    assert r.end_bytes == 8 * 32 * 32 * 4
    assert r.peak_op.startswith("workspace:")


# ------------------------------------------------------------------------------------------ SD 1.5 stages


def test_vae_decode_linear_in_pixels():
    sizes = [(256, 256), (384, 384), (512, 512), (512, 768)]
    results = [mt.trace_vae_decode(h, w) for h, w in sizes]
    slope = mt.scaling_exponent(results, key=lambda r: r.params["height"] * r.params["width"])
    assert slope == pytest.approx(1.0, abs=0.01)
    r256, _, r512, _ = results
    assert r512.peak_bytes / r256.peak_bytes == pytest.approx(4.0, rel=0.005)
    # the peak: three 256-channel fp16 maps at full resolution (upsampler conv output, group norm, SiLU)
    assert r512.peak_bytes == 3 * 256 * 512 * 512 * 2 + 4 * 64 * 64 * 2 == 402_685_952
    assert {b.op for b in r512.live_at_peak} >= {"aten.convolution.default", "aten.silu.default"}
    # batch is linear too
    assert mt.trace_vae_decode(256, 256, batch=2).peak_bytes == pytest.approx(2 * r256.peak_bytes, rel=0.005)


def test_vae_numbers_of_the_design_notes():
    # shared/DESIGN.md: a first trace found 0.375 GiB (512 x 512) and 1.500 GiB (1024 x 1024) for the decode
    assert round(mt.trace_vae_decode(1024, 1024).peak_bytes / GiB, 3) == 1.5
    enc = mt.trace_vae_encode(512, 512)
    assert enc.peak_bytes == 5 * 128 * 512 * 512 * 2  # five 128-channel maps in down_blocks.0
    assert enc.params["batch"] == 1


def test_unet_step_matches_h100_composition():
    # measurements/sd15_h100_peak_composition.json, replay_peak_of_traced (UNet step, 64 x 64 latent, batch 2):
    # the traced tensors live at the H100's peak. The meta trace reproduces them to within a few hundred bytes.
    expected = {("sdpa", "default"): 136_321_280, ("classic", "default"): 1_131_419_904,
                ("sdpa", "math"): 2_515_605_764}
    for (attention, backend), gpu in expected.items():
        r = mt.trace_unet_step(512, 512, 2, attention=attention, sdpa_backend=backend)
        assert r.peak_bytes == pytest.approx(gpu, rel=1e-4), (attention, backend, r.peak_bytes)
    eff = mt.trace_unet_step(512, 512, 2, sdpa_backend="efficient")
    assert eff.peak_bytes == pytest.approx(expected[("sdpa", "default")], rel=1e-4)


def test_unet_attention_kinds_order_and_restore():
    small = dict(height=384, width=384, batch=2)
    sdpa = mt.trace_unet_step(**small)
    sliced = mt.trace_unet_step(**small, attention="sliced")
    classic = mt.trace_unet_step(**small, attention="classic")
    math_ = mt.trace_unet_step(**small, sdpa_backend="math")
    assert sdpa.peak_bytes < sliced.peak_bytes < classic.peak_bytes < math_.peak_bytes
    unet = mt.meta_components(torch.float16)["unet"]
    assert {type(p).__name__ for p in unet.attn_processors.values()} == {"AttnProcessor2_0"}


def test_text_encoder_and_safety_checker_run():
    te1 = mt.trace_text_encoder(1)
    te2 = mt.trace_text_encoder(2)
    assert 0 < te1.peak_bytes < te2.peak_bytes <= 2 * te1.peak_bytes + 4096
    sc = mt.trace_safety_checker(1)
    assert sc.peak_bytes > 0 and sc.num_allocations > 0
