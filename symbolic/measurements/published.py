"""Published GPU-memory figures (diffusers documentation and blog posts, model cards, the models' own READMEs), each
with its settings and a verbatim quote, beside our estimate under the same settings, and where the settings differ.

Which of our numbers a figure is compared with (``PublishedFigure.measures``, a key of ``estimate``'s result):
* a peak measured with ``torch.cuda.max_memory_allocated()`` -> ``peak_allocated_bytes``;
* a peak measured with ``torch.cuda.max_memory_reserved()`` -> ``peak_reserved_bytes``;
* the memory right after loading (reserved, before any call) -> ``weights_bytes``;
* a measured peak whose method the source does not state -> ``peak_allocated_bytes`` (what diffusers' benchmark
  scripts print), and the note says the method is unknown;
* a requirement ("requires ~13GB of VRAM", "minimum GPU memory", "from 5GB") -> ``min_gpu_memory_bytes``, the
  smallest device memory with which the call completes.
Units: "GB" printed from ``/ 1024**3`` is GiB; a "GB" whose computation is not shown is taken as 10**9 bytes (had
it been GiB, the published bytes would be 7.4 % more and the ratio 7.4 % less).

Our numbers come from ``symbolic.pipelines.api.estimate`` (nothing here is fitted to these figures).
"""
from __future__ import annotations

from dataclasses import dataclass

from symbolic.pipelines.api import estimate

GB = 10**9
GiB = 2**30
#: ``estimate`` result keys a figure may be compared with.
QUANTITIES = ("peak_allocated_bytes", "peak_reserved_bytes", "min_gpu_memory_bytes", "nvidia_smi_bytes",
              "weights_bytes")
#: Short names of the quantities for tables.
QUANTITY_LABELS = {"peak_allocated_bytes": "peak allocated", "peak_reserved_bytes": "peak reserved",
                   "min_gpu_memory_bytes": "minimum GPU memory", "nvidia_smi_bytes": "nvidia-smi",
                   "weights_bytes": "weights"}
UNITS = {"GiB": GiB, "GB": GB}
#: ``qualifier``: how the source states the number ("" exact, "~" about, "<" under, "from" at least this with the
#: cheapest settings).
QUALIFIERS = ("", "~", "<", "from")

# Sources (each figure names its own; these are the shared ones).
DIFFUSERS = "github.com/huggingface/diffusers"
FLUX_BLOG = ("huggingface.co/blog/diffusers-quantization (huggingface/blog diffusers-quantization.md "
             "@ 0b53cb19406564a21da2bff693a71a08e73538ee)")
SD3_BLOG = "huggingface.co/blog/sd3 (huggingface/blog sd3.md @ 04fdd03d5565a696b9fcfa5da34f302750adeceb)"
COGVIDEOX_DOCS = (f"{DIFFUSERS} docs/source/en/api/pipelines/cogvideox.md @ 960c149c777ea1584cd5584eac832ec9810b2632 "
                  f"(diffusers 0.31.0.dev0; text introduced in PR #9150, replaced in PR #11112)")
FLUX_BLOG_SETTINGS = ("1024x1024, 50 steps, guidance_scale 3.5, max_sequence_length 512, batch 1, bf16, "
                      "pipe.to('cuda'), 1x H100 80GB")
FLUX_BLOG_METHOD = "torch.cuda.max_memory_reserved() / 1024**3 after the call, printed as GB (GiB)"
SD3_BLOG_SETTINGS = ("SD3 Medium (2B), StableDiffusion3Pipeline defaults: 1024x1024, 28 steps, guidance_scale 7.0, "
                     "fp16, A100 80GB, PyTorch 2.3")
SD3_BLOG_DIFFERS = ("another checkpoint: SD3 Medium (2B MMDiT, 24 blocks) against our SD3.5 Medium (2.5B MMDiT-X, "
                    "dual attention in 13 blocks, QK norm); same text encoders and VAE; measurement method not "
                    "shown (a gist)")
COGVIDEOX_SETTINGS = "720x480, 49 frames, 50 steps, guidance_scale 6, fp16, batch 1"
COGVIDEOX_CARD = ("huggingface.co/THUDM/CogVideoX-5b README.md, model table row 'Single GPU Memory Usage' and its "
                  "'Data Explanation' (read in a stored copy of the CogVideoX-5b-I2V card, same table)")


@dataclass(frozen=True)
class PublishedFigure:
    """One published memory figure, the call it was measured on, and how it maps onto ``estimate``'s arguments."""
    model: str                       # our catalog id (symbolic.pipelines.catalog.CATALOG)
    value: float                     # the number as published
    unit: str                        # "GiB" or "GB" (see the module docstring)
    measures: str                    # which estimate() result it is compared with (QUANTITIES)
    method: str                      # what the source measured, in words
    settings: str                    # the source's settings: size, frames, steps, batch, dtype, switches, GPU, version
    source: str                      # URL, or repository/path@commit
    quote: str                       # verbatim from the source
    differs: str = ""                # how the source's run differs from ours ("" none known)
    code_base: str = "diffusers"     # whose code ran
    qualifier: str = ""              # QUALIFIERS
    height: int | None = None
    width: int | None = None
    frames: int | None = None
    batch: int = 1
    guidance_scale: float | None = None
    dtype: str | None = None
    memory_options: tuple[str, ...] = ()
    quantize: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        for name, value, allowed in (("measures", self.measures, QUANTITIES), ("unit", self.unit, tuple(UNITS)),
                                     ("qualifier", self.qualifier, QUALIFIERS)):
            if value not in allowed:
                raise ValueError(f"{name}: {value!r} is not one of {', '.join(map(repr, allowed))}")
        if not self.source.strip() or not self.quote.strip():
            raise ValueError("source: and quote: a published figure needs both")

    @property
    def published_bytes(self) -> float:
        return self.value * UNITS[self.unit]

    def estimate(self) -> dict:
        """Our estimate for this figure's settings (the API every caller uses)."""
        return estimate(self.model, self.height, self.width, frames=self.frames, batch=self.batch,
                        guidance_scale=self.guidance_scale, dtype=self.dtype, memory_options=self.memory_options,
                        quantize=dict(self.quantize) or None)


def _flux_blog(value: float, quote: str, measures: str = "peak_reserved_bytes", extra: str = "", differs: str = "",
               **kw) -> PublishedFigure:
    return PublishedFigure("flux.1-dev", value, "GiB", measures, FLUX_BLOG_METHOD, FLUX_BLOG_SETTINGS + extra,
                           FLUX_BLOG, quote, differs, height=1024, width=1024, **kw)


def _sd3_blog(value: float, quote: str, extra: str, differs: str = "", **kw) -> PublishedFigure:
    return PublishedFigure("sd3.5-medium", value, "GB", "peak_allocated_bytes", "'Memory (GB)', method not shown",
                           SD3_BLOG_SETTINGS + extra, SD3_BLOG, quote, SD3_BLOG_DIFFERS + differs, height=1024,
                           width=1024,
                           guidance_scale=7.0, dtype="fp16", **kw)


def _cogvideox_docs(value: float, quote: str, extra: str, options: tuple[str, ...], qualifier: str = "",
                    differs: str = "") -> PublishedFigure:
    return PublishedFigure("cogvideox-2b", value, "GB", "peak_allocated_bytes", "'memory usage', method not shown "
                           "(the replication gist is not in the store)", COGVIDEOX_SETTINGS + extra, COGVIDEOX_DOCS,
                           quote, "measurement method unknown" + differs, qualifier=qualifier, height=480, width=720, frames=49,
                           dtype="fp16", memory_options=options)


PUBLISHED: tuple[PublishedFigure, ...] = (
    # --- FLUX.1-dev: the diffusers quantization-backends blog post (H100, max_memory_reserved) ---
    _flux_blog(31.447, "| BF16          | ~31.447 GB           | 36.166 GB   | 12 seconds     |",
               measures="weights_bytes", qualifier="~", extra="; 'Memory after loading' (before the call)",
               differs="reserved after loading: our weights without the allocator's segment rounding"),
    _flux_blog(36.166, "| BF16          | ~31.447 GB           | 36.166 GB   | 12 seconds     |"),
    _flux_blog(17.281, "| 4-bit         | 12.584 GB            | 17.281 GB   | 12 seconds     |",
               extra="; transformer and text_encoder_2 in bnb NF4 (compute bf16)",
               quantize=(("text_encoder_2", "bnb_nf4"), ("transformer", "bnb_nf4"))),
    _flux_blog(24.432, "| 8-bit         | 19.273 GB            | 24.432 GB   | 27 seconds     |",
               extra="; transformer and text_encoder_2 in bnb 8-bit",
               differs="the post shows the 4-bit code only; 8-bit read as the same mapping with load_in_8bit",
               quantize=(("text_encoder_2", "bnb_int8"), ("transformer", "bnb_int8"))),
    _flux_blog(21.482, "| int8_weight_only              | 17.020 GB            | 21.482 GB   | 15 seconds     |",
               extra="; transformer and text_encoder_2 torchao int8_weight_only",
               quantize=(("text_encoder_2", "torchao_int8wo"), ("transformer", "torchao_int8wo"))),
    _flux_blog(25.973, "| Q8_0           | 21.502 GB            | 25.973 GB   | 15 seconds     |",
               extra="; transformer from city96/FLUX.1-dev-gguf flux1-dev-Q8_0.gguf (compute bf16), T5 in bf16",
               quantize=(("transformer", "gguf_q8_0"),)),
    _flux_blog(28.451, "| FP8 (e4m3)| 23.682 GB            | 28.451 GB   | 13 seconds     |",
               extra="; transformer.enable_layerwise_casting(storage float8_e4m3fn, compute bf16)",
               memory_options=("layerwise_casting:fp8_e4m3",)),
    # --- SDXL and Qwen-Image: diffusers docs printing max_memory_allocated / 1024**3 ---
    PublishedFigure("sdxl", 10.47, "GiB", "peak_allocated_bytes",
                    "torch.cuda.max_memory_allocated() / 1024**3 after the call, printed as 'Max memory reserved: "
                    "... GB'", "defaults: 1024x1024, 50 steps, guidance_scale 5.0, fp16, device_map='cuda', "
                    "diffusers 0.36.0.dev0; GPU not stated",
                    f"{DIFFUSERS} docs/source/en/using-diffusers/loading.md @ "
                    f"2c4ee10b7736ae52e4ae289489b8d19422280d37 (PR #12148)", "# Max memory reserved: 10.47 GB",
                    "GPU not stated (cuDNN/cuBLAS workspaces vary by GPU)", height=1024, width=1024),
    PublishedFigure("qwen-image", 14.93, "GiB", "peak_allocated_bytes",
                    "torch.cuda.max_memory_allocated() / 1024**3 after the call",
                    "defaults: 1024x1024, 50 steps, no negative prompt (so no true CFG), bf16, transformer and "
                    "text_encoder in bnb NF4 (PipelineQuantizationConfig), device_map='cuda', diffusers 0.35.0.dev0",
                    f"{DIFFUSERS} docs/source/en/quicktour.md @ a58a4f665b4aa86205fb8c1795e79c331d65bb18 (PR #12128)",
                    "The example below quantizes the model to 4-bits and only uses 14.93GB of memory.",
                    "our text encoder call holds 512 prompt tokens (the upper bound), theirs a one-line prompt; "
                    "GPU not stated; our weights alone (transformer 10.7 GiB, text encoder 5.8 GiB in NF4) exceed "
                    "the published peak, which these settings do not explain", height=1024, width=1024,
                    guidance_scale=1.0, quantize=(("text_encoder", "bnb_nf4"), ("transformer", "bnb_nf4"))),
    PublishedFigure("qwen-image", 12.54, "GiB", "peak_allocated_bytes",
                    "torch.cuda.max_memory_allocated() / 1024**3 after the call",
                    "as above plus pipeline.enable_model_cpu_offload()",
                    f"{DIFFUSERS} docs/source/en/quicktour.md @ a58a4f665b4aa86205fb8c1795e79c331d65bb18 (PR #12128)",
                    "By combining quantization and offloading, the following example only requires ~12.54GB of "
                    "memory.", "as above; the pipeline was first placed with device_map='cuda', then offloaded",
                    qualifier="~", height=1024, width=1024, guidance_scale=1.0,
                    memory_options=("model_cpu_offload",),
                    quantize=(("text_encoder", "bnb_nf4"), ("transformer", "bnb_nf4"))),
    # --- SD3 Medium blog (the nearest bundled checkpoint is SD3.5 Medium) ---
    _sd3_blog(18.765, "| Default       | 4.762                  | 18.765         |", ""),
    _sd3_blog(12.0645, "| Offloading       | 32.765 (~6.8x)                 | 12.0645 (~1.55x)       |",
              ", pipe.enable_model_cpu_offload()", memory_options=("model_cpu_offload",)),
    _sd3_blog(10.586, "| 8bit T5       |        4.932 (~1.036x)        |     10.586 (~1.77x)    |",
              ", text_encoder_3 in bnb 8-bit, device_map='balanced' (one GPU)",
              differs="; device_map='balanced' placement is not modelled, and their saving over the default "
                      "(8.2 GB) is more than 8-bit T5 saves in ours (3.6 GB)",
              quantize=(("text_encoder_3", "bnb_int8"),)),
    # --- CogVideoX: diffusers docs (2B) and the model card (5B) ---
    _cogvideox_docs(33, "  - Without enabling cpu offloading, memory usage is `33 GB`", ", nothing offloaded", ()),
    _cogvideox_docs(19, "  - With enabling cpu offloading, memory usage is `19 GB`", ", pipe.enable_model_cpu_offload()",
                    ("model_cpu_offload",)),
    _cogvideox_docs(11, "  - With enabling cpu offloading and tiling, memory usage is `11 GB`",
                    ", model CPU offload + pipe.vae.enable_tiling()", ("model_cpu_offload", "vae_tiling")),
    _cogvideox_docs(4, "  - When enabled, memory usage is under `4 GB`", ", pipe.enable_sequential_cpu_offload()",
                    ("sequential_cpu_offload",), qualifier="<",
                    differs="; the docs do not say whether VAE tiling was on: ours with sequential offload and "
                            "tiling is 4.15 GB, without tiling the untiled decode of 49 frames dominates (the same "
                            "docs' model-offload rows drop 8 GB with tiling)"),
    PublishedFigure("cogvideox-5b", 5, "GB", "min_gpu_memory_bytes",
                    "'Single GPU Memory Usage', the smallest with every listed optimization on; method not shown",
                    "720x480, 49 frames, 50 steps, guidance_scale 6, bf16, pipe.enable_sequential_cpu_offload(), "
                    "vae.enable_slicing(), vae.enable_tiling(); tested on A100 / H100", COGVIDEOX_CARD,
                    "diffusers BF16: from 5GB*", "measurement method unknown; VAE slicing left out of ours (it "
                    "splits the decoded batch, one video here, and is not modelled for the CogVideoX VAE)",
                    qualifier="from", height=480, width=720, frames=49, guidance_scale=6.0, dtype="bf16",
                    memory_options=("sequential_cpu_offload", "vae_tiling")),
    PublishedFigure("cogvideox-5b", 16, "GB", "min_gpu_memory_bytes", "'requires ~16GB of VRAM'",
                    "defaults: 720x480, 49 frames, 50 steps, guidance_scale 6, bf16; transformer fp8 layerwise "
                    "casting (storage float8_e4m3fn, compute bf16), enable_model_cpu_offload(); diffusers 0.34.0.dev0",
                    f"{DIFFUSERS} docs/source/en/api/pipelines/cogvideox.md @ "
                    f"c934720629837257b15fd84d27e8eddaa52b76e6 (PR #11112)",
                    "The quantized CogVideoX 5B model below requires ~16GB of VRAM.",
                    "the example also passes a torchao int8 PipelineQuantizationConfig for the transformer, but "
                    "passes the transformer itself, which from_pretrained uses as given (pipeline_utils.py: "
                    "passed_class_obj), so it is not applied; modelled as layerwise casting + model offload",
                    qualifier="~", height=480, width=720, frames=49, guidance_scale=6.0, dtype="bf16",
                    memory_options=("layerwise_casting:fp8_e4m3", "model_cpu_offload")),
    # --- Wan 2.1 ---
    PublishedFigure("wan2.1-t2v-1.3b", 8.19, "GB", "min_gpu_memory_bytes", "'requires only 8.19 GB VRAM', "
                    "method not shown", "832x480, 81 frames (generate.py default), 50 steps, sample_guide_scale 6, "
                    "--offload_model True --t5_cpu, RTX 4090",
                    "github.com/Wan-Video/Wan2.1 README.md @ 18368dfcc8ec1930aba6a32011ef40d8efe098e7",
                    "The T2V-1.3B model requires only 8.19 GB VRAM, making it compatible with almost all "
                    "consumer-grade GPUs.",
                    "Wan's own code (its WanModel, VAE and offload) against diffusers' WanPipeline with model CPU "
                    "offload and T5 on the CPU (both VAEs in fp32: wan/modules/vae.py WanVAE dtype=torch.float)",
                    code_base="Wan2.1 generate.py", height=480, width=832, frames=81, guidance_scale=6.0,
                    memory_options=("model_cpu_offload", "text_encoder_cpu")),
    PublishedFigure("wan2.1-t2v-14b", 13, "GB", "min_gpu_memory_bytes", "'requires ~13GB of VRAM'",
                    "defaults: 832x480, 81 frames, 50 steps, guidance_scale 5.0, transformer bf16 with leaf-level "
                    "group offload + CUDA stream, UMT5 bf16 with block-level group offload (4 blocks per group), VAE "
                    "fp32 on the GPU; diffusers 0.34.0.dev0",
                    f"{DIFFUSERS} docs/source/en/api/pipelines/wan.md @ c934720629837257b15fd84d27e8eddaa52b76e6 "
                    f"(PR #11112)", "The Wan2.1 text-to-video model below requires ~13GB of VRAM.",
                    "ours offloads every component leaf by leaf; theirs the text encoder 4 blocks at a time and "
                    "the VAE not at all", qualifier="~", height=480, width=832, frames=81, guidance_scale=5.0,
                    memory_options=("group_offload:leaf_level:stream",)),
    # --- HunyuanVideo ---
    PublishedFigure("hunyuanvideo", 60, "GB", "min_gpu_memory_bytes", "'GPU Peak Memory' / 'minimum GPU memory "
                    "required', method not shown", "720x1280, 129 frames, 50 steps, batch 1, Tencent's "
                    "sample_video.py (hyvideo/config.py defaults: DiT bf16, VAE and text encoders fp16, VAE tiling "
                    "on, embedded guidance 6 with cfg-scale 1, text-len 256; flash-attn v2), one 80 GB GPU",
                    "github.com/Tencent/HunyuanVideo README.md, section Requirements",
                    "**Minimum**: The minimum GPU memory required is 60GB for 720px1280px129f and 45G for "
                    "544px960px129f.",
                    "Tencent's code base (its own text-encoder handling and offload) against diffusers' "
                    "HunyuanVideoPipeline with VAE tiling", code_base="Tencent HunyuanVideo", height=720,
                    width=1280, frames=129, memory_options=("vae_tiling",)),
    PublishedFigure("hunyuanvideo", 45, "GB", "min_gpu_memory_bytes", "as above",
                    "544x960, 129 frames, otherwise as above",
                    "github.com/Tencent/HunyuanVideo README.md, section Requirements",
                    "| HunyuanVideo   |        544px960px129f           |       45GB        |",
                    "as above", code_base="Tencent HunyuanVideo", height=544, width=960, frames=129,
                    memory_options=("vae_tiling",)),
    PublishedFigure("hunyuanvideo", 14, "GB", "min_gpu_memory_bytes", "'requires ~14GB of VRAM'",
                    "defaults: 720x1280, 61 frames, 30 steps, every component bf16, transformer bnb NF4 (compute "
                    "bf16), enable_model_cpu_offload(), vae.enable_tiling(); diffusers 0.34.0.dev0",
                    f"{DIFFUSERS} docs/source/en/api/pipelines/hunyuan_video.md @ "
                    f"c934720629837257b15fd84d27e8eddaa52b76e6 (PR #11112)",
                    "The quantized HunyuanVideo model below requires ~14GB of VRAM.", "none known",
                    qualifier="~", height=720, width=1280, frames=61, dtype="bf16",
                    memory_options=("model_cpu_offload", "vae_tiling"), quantize=(("transformer", "bnb_nf4"),)),
    # --- LTX-Video ---
    PublishedFigure("ltx-video", 10, "GB", "min_gpu_memory_bytes", "'requires ~10GB of VRAM'",
                    "768x512, 161 frames, 50 steps, bf16; transformer fp8 layerwise casting + leaf-level group "
                    "offload with CUDA stream, T5 block-level group offload (2 blocks), VAE leaf-level group "
                    "offload (no stream); diffusers 0.34.0.dev0",
                    f"{DIFFUSERS} docs/source/en/api/pipelines/ltx_video.md @ "
                    f"c934720629837257b15fd84d27e8eddaa52b76e6 (PR #11112)",
                    "The LTX-Video model below requires ~10GB of VRAM.",
                    "ours offloads every component leaf by leaf with a stream; theirs the T5 two blocks at a time "
                    "and the VAE without a stream", qualifier="~", height=512, width=768, frames=161,
                    memory_options=("layerwise_casting:fp8_e4m3", "group_offload:leaf_level:stream")),
)


def published_figures() -> tuple[PublishedFigure, ...]:
    """Every published figure, in the order of the README table."""
    return PUBLISHED


def settings_differ(figure: PublishedFigure) -> str:
    """Where the source's run is not ours, in words ("none known" when nothing is)."""
    parts = []
    if figure.code_base != "diffusers":
        parts.append(f"another code base ({figure.code_base})")
    if figure.differs and figure.differs != "none known":
        parts.append(figure.differs)
    return "; ".join(parts) or "none known"


@dataclass(frozen=True)
class Comparison:
    """One figure beside our estimate of the same quantity under the same settings."""
    figure: PublishedFigure
    ours_bytes: int
    ratio: float            # ours / published
    settings_differ: str
    peak_stage: str


def published_comparison() -> list[Comparison]:
    """Each published figure next to ``estimate`` of the quantity it measures, under its settings."""
    rows = []
    for figure in PUBLISHED:
        result = figure.estimate()
        ours = result[figure.measures]
        rows.append(Comparison(figure, ours, ours / figure.published_bytes, settings_differ(figure),
                               result["peak_stage"]))
    return rows


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value < 100 else f"{value:.0f}"


def _switches(figure: PublishedFigure) -> str:
    parts = list(figure.memory_options) + [f"{role}={scheme}" for role, scheme in figure.quantize]
    return ", ".join(parts) if parts else "none"


def published_rows() -> list[dict[str, str]]:
    """``published_comparison()`` as strings ready for a table (README, report): model, call (our arguments),
    settings (theirs), published, ours, ratio, quantity, method, differs, source, quote."""
    rows = []
    for c in published_comparison():
        f = c.figure
        size = "default size" if f.height is None else f"{f.width}x{f.height}"
        call = size + (f" x {f.frames} frames" if f.frames else "") + f", {f.dtype or 'catalog dtypes'}" + \
            ("" if f.guidance_scale is None else f", guidance {f.guidance_scale:g}") + f"; {_switches(f)}"
        qualifier = {"": "", "~": "~", "<": "< ", "from": "from "}[f.qualifier]
        rows.append({"model": f.model, "call": call, "settings": f.settings,
                     "published": f"{qualifier}{_number(f.value)} {f.unit}",
                     "ours": f"{_number(c.ours_bytes / UNITS[f.unit])} {f.unit}", "ratio": f"{c.ratio:.2f}",
                     "quantity": QUANTITY_LABELS[f.measures], "method": f.method, "differs": c.settings_differ,
                     "source": f.source, "quote": f.quote})
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table() -> str:
    """The README's "Published figures" table (``scripts/published_table.py`` prints it; a test keeps the README
    equal to it)."""
    lines = ["| model | settings (theirs; our call) | published | ours (quantity) | ours / published | "
             "where settings differ; source |",
             "|---|---|---|---|---|---|"]
    for r in published_rows():
        lines.append("| " + " | ".join(_cell(x) for x in (
            f"`{r['model']}`", f"{r['settings']}. Ours: {r['call']}", r["published"],
            f"{r['ours']} ({r['quantity']})", r["ratio"], f"{r['differs']}. Method: {r['method']}. "
            f"Source: {r['source']}")) + " |")
    return "\n".join(lines) + "\n"


__all__ = ["PublishedFigure", "Comparison", "PUBLISHED", "QUANTITIES", "published_figures", "published_comparison",
           "published_rows", "settings_differ", "markdown_table"]
