"""Weights on the GPU under diffusers' offloading and layerwise-casting switches (plain ints, no SymPy).

Switch strings (the ``memory_options`` of issue 9): ``sequential_cpu_offload``, ``group_offload:block_level:N``,
``group_offload:leaf_level`` (each optionally ``:stream``), ``layerwise_casting:fp8_e4m3`` and
``layerwise_casting:fp8_e5m2``.

Everything here works on a component's tensors as ``(dotted name, bytes)`` pairs in ``.to()`` order
(``Component.tensors`` with ``symbolic.pipelines.model.weights_of(config, role).sizes``). The module tree is implied by
the names: a tensor ``a.b.c.weight`` is owned directly by module ``a.b.c``; a module whose children are all named by
integers is an ``nn.ModuleList`` / ``nn.Sequential`` (integers missing between 0 and the largest one are
parameter-less children such as ``nn.SiLU``; they are added as empty modules because they still take part in the
grouping by index).

The forward is modelled as nested calls: each module's ``forward`` is called inside its parent's, children in
definition order (``order=`` gives the real call order, e.g. traced with forward pre-hooks, where it matters: only
``leaf_level`` with ``:stream``, whose prefetch pairs neighbours in call order). A module that is never called
(``order`` given and the module absent from it) fires no hook.

Sources (diffusers 0.42, accelerate 1.x), cited per rule below:
* ``diffusers/hooks/group_offloading.py`` (``ModuleGroup``, ``GroupOffloadingHook``,
  ``LazyPrefetchGroupOffloadingHook``, ``_apply_group_offloading_block_level`` / ``_leaf_level``),
* ``diffusers/hooks/layerwise_casting.py`` (``DEFAULT_SKIP_MODULES_PATTERN``, ``_apply_layerwise_casting``,
  ``LayerwiseCastingHook``), ``diffusers/hooks/_common.py`` (``_GO_LC_SUPPORTED_PYTORCH_LAYERS``),
* ``diffusers/models/modeling_utils.py`` (``ModelMixin.enable_layerwise_casting``, ``enable_group_offload``,
  ``_supports_group_offloading``), ``diffusers/pipelines/pipeline_utils.py`` (``enable_sequential_cpu_offload``,
  ``enable_group_offload``),
* ``accelerate/big_modeling.py`` (``cpu_offload``) and ``accelerate/hooks.py`` (``attach_align_device_hook``,
  ``AlignDevicesHook``).
"""
from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from symbolic.switches.switch import STORAGE_BYTES, Switch, SwitchKind, parse_switch

__all__ = [
    "sequential_offload_bytes", "group_offload_bytes", "layerwise_casting_sizes",
    "skip_patterns_for", "applies", "component_inputs",
    "DEFAULT_SKIP_MODULES_PATTERN",
]

# ---------------------------------------------------------------------------------------------------------------
# Module tree implied by the dotted names
# ---------------------------------------------------------------------------------------------------------------

def _owner(name: str) -> str:
    return name.rpartition(".")[0]


def _is_index(atom: str) -> bool:
    return atom.isdigit()


class _Tree:
    """Modules (dotted names, ``""`` the root), their children in definition order, their directly owned tensors."""

    def __init__(self, names: Sequence[str], order: Sequence[str] | None = None):
        self.children: dict[str, list[str]] = {"": []}
        self.own: dict[str, list[int]] = {"": []}
        for i, name in enumerate(names):
            module = _owner(name)
            self._add(module)
            self.own[module].append(i)
        # ModuleList / Sequential: children in index order, with the parameter-less indices filled in.
        for module, kids in list(self.children.items()):
            if kids and all(_is_index(k.rpartition(".")[2]) for k in kids):
                top = max(int(k.rpartition(".")[2]) for k in kids)
                for j in range(top + 1):
                    self._add(f"{module}.{j}" if module else str(j))
                self.children[module] = sorted(self.children[module], key=lambda k: int(k.rpartition(".")[2]))
        self.called: set[str] | None = None
        if order is not None:
            first: dict[str, int] = {}
            for k, m in enumerate(order):
                first.setdefault(m, k)
            self.called = set(first) | {""}
            key: dict[str, float] = {}

            def rank(m: str) -> float:
                r = min([first.get(m, math.inf)] + [rank(c) for c in self.children[m]])
                key[m] = r
                return r

            rank("")
            for m, kids in self.children.items():
                kids.sort(key=lambda c: key[c])  # stable: never-called siblings keep definition order

    def _add(self, module: str) -> None:
        if module in self.children:
            return
        parent = _owner(module) if "." in module else ""
        if parent:
            self._add(parent)
        self.children[module] = []
        self.own[module] = []
        self.children[parent].append(module)

    def is_list(self, module: str) -> bool:
        kids = self.children[module]
        return bool(kids) and all(_is_index(k.rpartition(".")[2]) for k in kids)

    def subtree(self, module: str) -> list[str]:
        out = [module]
        for c in self.children[module]:
            out += self.subtree(c)
        return out

    def preorder(self) -> list[str]:
        return self.subtree("")

    def events(self) -> list[tuple[str, str]]:
        """``("pre", m)`` / ``("post", m)`` for each called module, nested: a module's forward runs inside its
        parent's (containers such as ``ModuleList`` are never called themselves, their children still nest in the
        caller: descend through every module, emit only for called ones)."""
        out: list[tuple[str, str]] = []

        def walk(m: str) -> None:
            fires = self.called is None or m in self.called
            if fires:
                out.append(("pre", m))
            for c in self.children[m]:
                walk(c)
            if fires:
                out.append(("post", m))

        walk("")
        return out


@dataclass
class _Group:
    tensors: set[int]
    onload_leader: str
    offload_leader: str
    onload_self: bool = True


def _simulate(tree: _Tree, sizes: Sequence[int], groups: list[_Group], hook: Mapping[str, int],
              next_group: Mapping[str, int], resident: int = 0) -> int:
    """Replay ``GroupOffloadingHook.pre_forward`` / ``post_forward`` (diffusers/hooks/group_offloading.py) over the
    nested forward; returns the largest sum of onloaded tensor bytes (plus ``resident``).

    pre_forward of a group's onload leader: onload the group if ``onload_self`` (or, for a group that relies on
    prefetch, if it is still on the offload device: the fallback for modules absent from the traced order); then onload
    ``next_group`` if it is set and not ``onload_self`` (the prefetch). post_forward of the offload leader: offload.
    A tensor listed in two live groups counts once (``param.data`` is one storage)."""
    count: dict[int, int] = {}
    live: set[int] = set()
    current = peak = resident

    def onload(g: int) -> None:
        nonlocal current
        if g in live:
            return
        live.add(g)
        for t in groups[g].tensors:
            count[t] = count.get(t, 0) + 1
            if count[t] == 1:
                current += sizes[t]

    def offload(g: int) -> None:
        nonlocal current
        if g not in live:
            return
        live.discard(g)
        for t in groups[g].tensors:
            count[t] -= 1
            if count[t] == 0:
                current -= sizes[t]

    for kind, m in tree.events():
        if m not in hook:
            continue
        g = hook[m]
        if kind == "pre":
            if groups[g].onload_leader == m:
                if groups[g].onload_self or g not in live:
                    onload(g)
                nxt = next_group.get(m)
                if nxt is not None and not groups[nxt].onload_self:
                    onload(nxt)
            peak = max(peak, current)
        elif groups[g].offload_leader == m:
            offload(g)
    return peak


def _split(names_and_sizes: Iterable[tuple[str, int]]) -> tuple[list[str], list[int]]:
    pairs = list(names_and_sizes)
    return [n for n, _ in pairs], [int(s) for _, s in pairs]


# ---------------------------------------------------------------------------------------------------------------
# enable_sequential_cpu_offload (accelerate)
# ---------------------------------------------------------------------------------------------------------------

def sequential_offload_bytes(names_and_sizes: Iterable[tuple[str, int]], *, buffers: Collection[str] = (),
                             non_persistent: Collection[str] = (), order: Sequence[str] | None = None) -> int:
    """Most weight bytes of one component on the GPU at once under ``pipe.enable_sequential_cpu_offload()``.

    Rules (sources):
    * ``DiffusionPipeline.enable_sequential_cpu_offload`` (pipelines/pipeline_utils.py) calls, per ``nn.Module``
      component not in ``_exclude_from_cpu_offload``, ``accelerate.cpu_offload(model, device,
      offload_buffers=len(model._parameters) > 0)``: buffers are offloaded only when the component's root owns a
      parameter directly.
    * ``cpu_offload`` (accelerate/big_modeling.py) -> ``attach_align_device_hook(offload=True, weights_map=state_dict)``
      (accelerate/hooks.py) hooks every module with direct tensors (``named_module_tensors(module)``, not recursive)
      with an ``AlignDevicesHook``: ``init_hook`` moves its direct parameters (and persistent buffers when
      ``offload_buffers``) to ``meta``; ``pre_forward`` copies them from the CPU state dict to the execution device,
      ``post_forward`` sets them back to ``meta`` (freed).
    * Buffers: with ``offload_buffers=False`` ``init_hook`` moves every buffer of the hooked module to the execution
      device, where it stays (resident for the whole run); with ``offload_buffers=True`` non-persistent buffers stay on
      the device (``get_non_persistent_buffers``) and persistent ones travel with the parameters.
    * Nesting: a module's forward runs inside its parent's, so a parent's own parameters stay on the device while its
      children run: the peak is the resident buffers plus the largest sum of directly-owned offloaded bytes along one
      root-to-module path (for most diffusers models, whose parameters all sit in leaf ``Linear`` / ``Conv`` /
      norm modules, simply the largest module's own parameters).

    ``buffers``: names of the tensors that are buffers (the rest are parameters); ``non_persistent``: the buffers
    registered with ``persistent=False``. ``order``: module names in call order (only which modules are called
    matters here)."""
    names, sizes = _split(names_and_sizes)
    buffers, non_persistent = set(buffers), set(non_persistent)
    tree = _Tree(names, order)
    offload_buffers = any(names[i] not in buffers for i in tree.own[""])
    groups: list[_Group] = []
    hook: dict[str, int] = {}
    resident = 0
    for m in tree.preorder():
        moving = set()
        for i in tree.own[m]:
            n = names[i]
            if n not in buffers or (offload_buffers and n not in non_persistent):
                moving.add(i)
            else:
                resident += sizes[i]
        if moving:
            hook[m] = len(groups)
            groups.append(_Group(moving, m, m))
    return _simulate(tree, sizes, groups, hook, {}, resident)


# ---------------------------------------------------------------------------------------------------------------
# Group offloading
# ---------------------------------------------------------------------------------------------------------------

def _block_level_scope(tree: _Tree, scope: str, n: int, stream: bool, block_modules: set[str],
                       groups: list[_Group], hook: dict[str, int], lazy: list[str]) -> None:
    """``_apply_group_offloading_block_level`` on module ``scope``."""
    matched: set[str] = set()
    unmatched: list[str] = []
    pending: list[tuple[_Group, list[str]]] = []
    for child in tree.children[scope]:
        local = child.rpartition(".")[2]
        if local in block_modules:
            _block_level_scope(tree, child, n, stream, block_modules, groups, hook, lazy)
            matched.add(child)
        elif tree.is_list(child):
            kids = tree.children[child]
            for i in range(0, len(kids), n):
                chunk = kids[i:i + n]
                tensors = {t for k in chunk for s in tree.subtree(k) for t in tree.own[s]}
                pending.append((_Group(tensors, chunk[0], chunk[-1]), chunk))
                matched.update(chunk)
        else:
            unmatched.append(child)
    for g, members in pending:
        gid = len(groups)
        groups.append(g)
        for member in members:
            hook.setdefault(member, gid)
    # Parameters / buffers of the scope with no grouped ancestor, plus the unmatched children (their tensors are
    # listed both as modules and as parameters: one storage each).
    rest = set(tree.own[scope])
    for child in unmatched:
        rest |= {t for s in tree.subtree(child) for t in tree.own[s]}
    if unmatched or rest:
        gid = len(groups)
        groups.append(_Group(rest, scope, scope))
        hook.setdefault(scope, gid)
        if stream:
            lazy.append(scope)


def _chains(tree: _Tree, groups: list[_Group], hook: dict[str, int], lazy: list[str]) -> dict[str, int]:
    """``LazyPrefetchGroupOffloadingHook``: the first forward records the order in which hooked submodules (the scope
    itself excluded) run; its ``post_forward`` sets each hook's ``next_group`` to the next one's group and marks that
    group ``onload_self=False``; the scope's own hook prefetches the first. Inner scopes finish first; the outer
    scope's chain, covering the same modules in the same order, is applied last."""
    calls = [m for kind, m in tree.events() if kind == "pre"]
    nxt: dict[str, int] = {}
    for scope in lazy:  # appended inner-first by the recursion
        inside = [m for m in calls if m != scope and m in hook and (scope == "" or m.startswith(scope + "."))]
        if not inside:
            continue
        nxt[scope] = hook[inside[0]]
        groups[hook[inside[0]]].onload_self = False
        for a, b in zip(inside, inside[1:]):
            nxt[a] = hook[b]
            groups[hook[b]].onload_self = False
    return nxt


def group_offload_bytes(names_and_sizes: Iterable[tuple[str, int]], mode: str, blocks_per_group: int | None,
                        stream: bool, *, order: Sequence[str] | None = None,
                        block_modules: Collection[str] = ()) -> int:
    """Most weight bytes of one component on the onload device at once under ``enable_group_offload`` /
    ``apply_group_offloading(offload_type=mode, num_blocks_per_group=blocks_per_group, use_stream=stream)``, in the
    steady state (second and later forwards: with streams the first forward only traces the order, without
    prefetching).

    block_level (``_apply_group_offloading_block_level``):
    * each top-level child that is an ``nn.ModuleList`` / ``nn.Sequential`` is cut into groups of N consecutive
      children (``range(0, len, N)``), onloaded at the first member's pre_forward and offloaded at the last member's
      post_forward; children named in ``block_modules`` (the class's ``_group_offload_block_modules``, e.g.
      AutoencoderKL's encoder / decoder) are recursed into as scopes of their own;
    * every other top-level child plus the parameters / buffers owned directly by the scope form one "unmatched" group
      hooked on the scope itself: onloaded at the scope's pre_forward, offloaded at its post_forward, so it is on the
      device through the whole forward. Peak without streams: unmatched + the largest group.
    * ``use_stream=True``: N is forced to 1 (warning in the same function); ``LazyPrefetchGroupOffloadingHook`` chains
      the groups in call order and each group's pre_forward onloads the next one on the transfer stream before its own
      forward runs; a group is freed at its post_forward (``_offload_to_memory``: ``param.data =
      cpu_param_dict[param]``). Peak: unmatched + the largest sum of two neighbouring groups in call order.
    leaf_level (``_apply_group_offloading_leaf_level``): one group per ``Conv*d`` / ``ConvTranspose*d`` / ``Linear``
    / ``Embedding`` (``_GO_LC_SUPPORTED_PYTORCH_LAYERS``) with its tensors, and one group per remaining module
    holding the tensors it owns directly (``_find_parent_module_in_module_dict``), hooked on that module: every
    module's own tensors form a group alive during its forward. Peak: the largest sum along one root-to-module path;
    with ``use_stream=True`` the root gets a lazy prefetch hook and each module's pre_forward also onloads the next
    hooked module's group in call order (pass ``order``: call order differs from definition order inside attention
    and transformer blocks).

    ``record_stream=True`` defers the reuse of a freed block until the compute stream has passed it (the allocator's
    ``allocated`` count drops at the free as before: ``reserved`` can hold up to one more group); ``low_cpu_mem_usage``
    only pins host memory on the fly instead of up front (``ModuleGroup._to_cpu`` / ``_pinned_memory_tensors``): host
    RAM, not device memory. Streams' "extra copies" are those pinned host copies (``cpu_param_dict``) and the
    prefetched group on the device."""
    if mode not in ("block_level", "leaf_level"):
        raise ValueError(f"memory_options: group_offload mode must be block_level or leaf_level, not {mode!r}")
    names, sizes = _split(names_and_sizes)
    tree = _Tree(names, order)
    groups: list[_Group] = []
    hook: dict[str, int] = {}
    lazy: list[str] = []
    if mode == "block_level":
        if not blocks_per_group or blocks_per_group < 1:
            raise ValueError("memory_options: group_offload:block_level needs num_blocks_per_group N >= 1")
        n = 1 if stream else blocks_per_group
        _block_level_scope(tree, "", n, stream, set(block_modules), groups, hook, lazy)
    else:
        for m in tree.preorder():
            if tree.own[m]:
                hook[m] = len(groups)
                groups.append(_Group(set(tree.own[m]), m, m))
        if stream:
            if "" not in hook:  # the empty `_GROUP_ID_LAZY_LEAF` group on the root
                hook[""] = len(groups)
                groups.append(_Group(set(), "", ""))
            lazy.append("")
    nxt = _chains(tree, groups, hook, lazy) if stream else {}
    return _simulate(tree, sizes, groups, hook, nxt)


# ---------------------------------------------------------------------------------------------------------------
# Layerwise casting
# ---------------------------------------------------------------------------------------------------------------

#: diffusers/hooks/layerwise_casting.py ``DEFAULT_SKIP_MODULES_PATTERN`` (``re.search`` on the dotted module name).
DEFAULT_SKIP_MODULES_PATTERN = ("pos_embed", "patch_embed", "norm", "^proj_in$", "^proj_out$")

def skip_patterns_for(component) -> tuple[str, ...]:
    """The patterns ``ModelMixin.enable_layerwise_casting()`` uses with its defaults (models/modeling_utils.py):
    ``DEFAULT_SKIP_MODULES_PATTERN`` + ``_keep_in_fp32_modules`` + ``_skip_layerwise_casting_patterns`` (deduplicated;
    with peft installed it also adds the LoRA / LoHa / LoKr adapter layer names, which match no base weight). E.g.
    ``FluxTransformer2DModel``: the defaults + ``("pos_embed", "norm")``; ``UNet2DConditionModel``: + ``("norm",)``;
    ``WanTransformer3DModel``: + its fp32 modules (``time_embedder``, ``scale_shift_table``, ``norm1..3``, ``rope``)
    + ``("patch_embedding", "condition_embedder", "norm")``."""
    out = list(DEFAULT_SKIP_MODULES_PATTERN)
    for p in tuple(component.keep_fp32_modules) + tuple(component.skip_layerwise_casting_patterns):
        if p not in out:
            out.append(p)
    return tuple(out)


def _is_layer(tree: _Tree, names: Sequence[str], m: str, ndims: Mapping[str, int] | None,
              layer_modules: Collection[str] | None) -> bool:
    """Is module ``m`` one of ``_GO_LC_SUPPORTED_PYTORCH_LAYERS`` (Conv / ConvTranspose 1-3d, Linear, Embedding)?
    From the names: a leaf owning ``weight`` (and maybe ``bias``) only; with ``ndims`` the weight must also be 2-D or
    more (a LayerNorm / GroupNorm / RMSNorm weight is 1-D)."""
    if layer_modules is not None:
        return m in layer_modules
    if m == "" or tree.children[m]:
        return False
    atoms = {names[i].rpartition(".")[2] for i in tree.own[m]}
    if "weight" not in atoms or not atoms <= {"weight", "bias"}:
        return False
    return ndims is None or ndims.get(f"{m}.weight", 2) >= 2


def layerwise_casting_sizes(names_and_sizes: Iterable[tuple[str, int]], model_dtype_bytes: int, storage: str,
                            skip_patterns: Sequence[str] = DEFAULT_SKIP_MODULES_PATTERN, *,
                            ndims: Mapping[str, int] | None = None, layer_modules: Collection[str] | None = None,
                            uncastable: Collection[str] = ()) -> tuple[list[tuple[str, int]], int]:
    """Stored bytes per tensor under ``model.enable_layerwise_casting(storage_dtype=fp8, compute_dtype=model dtype)``
    and the transient bytes of the upcast during one module's forward.

    * ``_apply_layerwise_casting`` (hooks/layerwise_casting.py) walks the tree from the root: a module whose dotted
      name matches any skip pattern (``re.search``) is skipped with its whole subtree; a ``Conv*d`` /
      ``ConvTranspose*d`` / ``Linear`` / ``Embedding`` gets a ``LayerwiseCastingHook`` (``initialize_hook``:
      ``module.to(storage_dtype)``, floating tensors only); anything else is recursed into. So tensors owned directly by
      other modules (``scale_shift_table``, norm weights, learned position embeddings) keep the model dtype.
    * ``pre_forward``: ``module.to(compute_dtype)`` replaces each fp8 tensor by a compute-dtype copy (the fp8 storage
      is freed when ``param.data`` is rebound); ``post_forward`` casts back. Only one hooked (leaf) module runs at a
      time, so the transient is the largest hooked module's ``numel * (compute - storage)`` bytes (its upcast copy is
      ``numel * compute`` while its fp8 storage is gone); the brief moment inside ``_apply`` where one tensor exists in
      both dtypes is smaller.

    ``skip_patterns``: ``skip_patterns_for(class_name)`` for the model defaults. ``ndims``: tensor name -> ndim (tells
    a Linear from a norm); ``layer_modules``: the exact set of supported-layer module names if known;
    ``uncastable``: tensors ``.to(dtype)`` leaves alone or that are not in the model dtype (integer buffers,
    fixed-dtype buffers). Returns ``([(name, stored bytes)], transient bytes)``."""
    if storage not in STORAGE_BYTES:
        raise ValueError(f"memory_options: layerwise_casting storage must be one of {sorted(STORAGE_BYTES)}")
    names, sizes = _split(names_and_sizes)
    tree = _Tree(names)
    store = STORAGE_BYTES[storage]
    uncastable = set(uncastable)
    stored = list(sizes)
    transient = 0

    def walk(m: str) -> None:
        nonlocal transient
        if any(re.search(p, m) for p in skip_patterns):
            return
        if _is_layer(tree, names, m, ndims, layer_modules):
            delta = 0
            for i in tree.own[m]:
                if names[i] in uncastable:
                    continue
                numel = sizes[i] // model_dtype_bytes
                stored[i] = numel * store
                delta += numel * (model_dtype_bytes - store)
            transient = max(transient, delta)
            return
        for c in tree.children[m]:
            walk(c)

    walk("")
    return list(zip(names, stored)), transient


# ---------------------------------------------------------------------------------------------------------------
# Where each switch applies
# ---------------------------------------------------------------------------------------------------------------

def applies(switch: Switch | str, component) -> bool:
    """Does the switch act on ``component`` (a component class or instance: its ``library`` and
    ``supports_group_offloading``)?

    * sequential_cpu_offload: every ``nn.Module`` component (``enable_sequential_cpu_offload`` loops over
      ``self.components`` and calls accelerate's ``cpu_offload``), diffusers and transformers alike.
    * group_offload: ``DiffusionPipeline.enable_group_offload`` calls ``component.enable_group_offload`` where the
      component has it (diffusers ``ModelMixin``, refused by classes with ``_supports_group_offloading = False``) and
      ``apply_group_offloading(module=component)`` otherwise, which works on any ``nn.Module``: transformers text
      encoders too. (At block_level a transformers encoder has no top-level ModuleList - CLIP's layers sit under
      ``text_model.encoder``, T5's under ``encoder`` - so its whole body is one unmatched group: no saving.)
    * layerwise_casting: ``ModelMixin.enable_layerwise_casting`` only; the pipeline has no such method and
      transformers models have none: diffusers models only."""
    if isinstance(switch, str):
        switch = parse_switch(switch)
    library = component.library
    if switch.kind is SwitchKind.SEQUENTIAL_CPU_OFFLOAD:
        return True
    if switch.kind is SwitchKind.GROUP_OFFLOAD:
        return library == "transformers" or component.supports_group_offloading
    return library == "diffusers"


# ---------------------------------------------------------------------------------------------------------------
# Inputs from a symbolic component
# ---------------------------------------------------------------------------------------------------------------

def component_inputs(component, sizes: Sequence[int]) -> dict:
    """Keyword inputs drawn from a ``symbolic.components`` component and ``weights_of(...).sizes``:
    ``names_and_sizes``, ``ndims`` (for layerwise casting), ``uncastable`` (integer and fixed-dtype tensors) and
    ``buffers`` / ``non_persistent`` (the component records do not say which tensors are buffers: the fixed-dtype and
    integer ones are taken as non-persistent buffers, as they are in the supported models)."""
    tensors = list(component.tensors)
    fixed = set(getattr(component, "fixed_dtype_bytes", {}) or {})
    odd = {t.name for t in tensors if not t.floating} | fixed
    keep = tuple(getattr(component, "keep_fp32_modules", ()) or ())
    kept = {t.name for t in tensors if any(k in t.name.split(".") for k in keep)}
    return {
        "names_and_sizes": [(t.name, int(s)) for t, s in zip(tensors, sizes)],
        "ndims": {t.name: len(t.shape) for t in tensors},
        "uncastable": odd | kept,
        "buffers": odd,
        "non_persistent": odd,
    }
