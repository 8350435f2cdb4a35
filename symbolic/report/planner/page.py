"""``planner.html``: one self-contained page (inline CSS and JavaScript, no network) where a person picks a model,
size, frames, batch, dtype, a switch and a GPU size and sees the stages as bars, the peak, the minimum GPU memory and
whether it fits.

Its arithmetic is the API's closed forms printed by ``javascript.ExactJavascriptPrinter`` (``expressions``); the
page adds no formula. It only checks arguments (the API's grammar: ``checks.parse_int``, ``units.parse_size``,
the dtype aliases), picks the function of the chosen configuration, feeds it the symbol values ``api.values_of``
would, and shapes the outputs as ``api.shape`` does, then writes that result as JSON (``estimate --json``'s
keys, plus ``gpu_memory_bytes`` and ``fits`` when ``gpu_memory`` is given) into the element with id ``result``.

URL parameters use the CLI's names (``?model=sd15&height=1024&width=1024&batch=2&memory_option=vae_tiling``, also
``task``, ``frames``, ``dtype``, ``gpu_memory``; ``-`` may stand for ``_``). ``points=`` takes a JSON list of such
parameter objects and writes a JSON list of results (or ``{"error": ...}``): the browser test checks many points per
browser launch. An invalid parameter is shown as a message and ``result`` holds ``{"error": ...}``, no numbers.

The data (the JavaScript functions) is cached on disk (``symbolic.core.evaluate.cache``, namespace ``planner``): a warm run writes
the page without SymPy doing any work.
"""
from __future__ import annotations

import json
from pathlib import Path

from symbolic.core.checks import javascript_checks
from symbolic.core.evaluate.cache import load_or_build
from symbolic.pipelines.api import SIZE_RULES
from symbolic.report.planner.javascript import RUNTIME
from symbolic.core.symbols import ARG_NAMES
from symbolic.core.units import MAX_SIZE_TEXT, SIZE_PATTERN, SIZE_UNITS, GiB

#: Parameters the CLI's ``estimate`` has and this page does not offer (their defaults apply): named in the message.
CLI_ONLY = ("guidance_scale", "sdpa_backend", "attention", "devices", "parallel", "quantize", "expandable_segments",
            "prompt_tokens", "long_prompt", "no_safety_checker", "json")
#: The cache key's readable part: what the page offers (the source digest covers the code).
CACHE_NAMESPACE = "planner"


def _data(models: tuple[str, ...] | None) -> dict:
    from symbolic.pipelines.catalog import CATALOG
    from symbolic.report.planner.expressions import DTYPE_CHOICES, SWITCH_CHOICES, planner_data

    key = f"dtypes={DTYPE_CHOICES}|switches={SWITCH_CHOICES}|models={list(CATALOG) if models is None else models}"
    return load_or_build(CACHE_NAMESPACE, key, lambda: planner_data(models), required=("functions", "models"))


def _script_json(value) -> str:
    """JSON safe inside a <script> element (no ``</`` can close it)."""
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


def render(data: dict) -> str:
    functions = ",\n".join(f["source"] for f in data["functions"])
    facts = dict(data, functions=[f["outputs"] for f in data["functions"]], arg_names=list(ARG_NAMES),
                 size_pattern=SIZE_PATTERN.pattern, max_size_text=MAX_SIZE_TEXT, units=SIZE_UNITS, gib=GiB, cli_only=CLI_ONLY)
    return (_TEMPLATE.replace("/*RUNTIME*/", RUNTIME.strip())
            .replace("/*CHECKS*/", javascript_checks(SIZE_RULES))
            .replace("/*FUNCTIONS*/", functions)
            .replace("/*DATA*/", _script_json(facts)))


def write_planner(path: Path, models: tuple[str, ...] | None = None) -> Path:
    """Write the planner page to ``path`` (parent folders created) and return ``path``. ``models``: the bundled ids
    it offers (default: every one; the browser test writes a page of a few, which builds faster)."""
    path = Path(path)
    if models is not None:
        models = tuple(models)
    data = _data(models)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(data), encoding="utf-8")
    return path


_TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>symbolic: GPU memory planner</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:64em;padding:0 1em;color:#1a1a1a}
h1{font-size:1.4em;margin:0 0 .3em}
form{display:grid;grid-template-columns:repeat(auto-fill,minmax(11em,1fr));gap:.6em 1em;margin:1em 0;
  padding:1em;background:#f4f5f7;border-radius:6px}
label{display:flex;flex-direction:column;font-size:.85em;color:#444}
input,select{font:inherit;padding:.25em;margin-top:.2em}
#message{color:#a00;font-weight:600;min-height:1.3em;white-space:pre-wrap}
.bars{margin:1em 0}
.row{display:grid;grid-template-columns:11em 1fr 7em;align-items:center;gap:.6em;margin:.25em 0}
.track{position:relative;height:1.3em;background:#eceef1;border-radius:3px;overflow:hidden}
.seg{position:absolute;top:0;bottom:0}
.weights{background:#8aa4c8}.act{background:#e0884a}.peak .act{background:#c8502a}
.gpu{position:absolute;top:-2px;bottom:-2px;width:2px;background:#111}
.num{text-align:right;font-variant-numeric:tabular-nums}
table{border-collapse:collapse;margin:1em 0}td{padding:.15em .8em .15em 0}td.num{padding-left:1.5em}
.fits{color:#176b2c;font-weight:700}.nofit{color:#a00;font-weight:700}
.legend span{display:inline-block;width:.9em;height:.9em;vertical-align:middle;margin:0 .3em 0 1em}
pre{background:#f4f5f7;padding:.8em;overflow:auto;font-size:.8em}
small{color:#555}
</style>
</head>
<body>
<h1>GPU memory planner</h1>
<p><small>Closed-form memory model of diffusers pipelines (package <code>symbolic</code>), evaluated here exactly:
the same SymPy expressions as <code>python -m symbolic estimate</code>, printed to JavaScript by SymPy's code printer
over exact rationals (BigInt), so every byte count equals the Python API's at any size. Offline: this page loads
nothing.</small></p>
<form id="form" autocomplete="off">
<label>model<select name="model"></select></label>
<label>task<select name="task"></select></label>
<label>height<input name="height" inputmode="numeric"></label>
<label>width<input name="width" inputmode="numeric"></label>
<label>frames<input name="frames" inputmode="numeric"></label>
<label>batch<input name="batch" inputmode="numeric" value="1"></label>
<label>dtype<select name="dtype"></select></label>
<label>memory option<select name="memory_option"></select></label>
<label>GPU memory<input name="gpu_memory" placeholder="e.g. 24GiB or 80GB"></label>
</form>
<div id="message"></div>
<div id="view"></div>
<p><small>Bars: each stage's peak allocated bytes (<code>torch.cuda.max_memory_allocated</code>); blue the weights
resident then, orange the stage's activations; the black line is the GPU size. "Fits" compares the minimum GPU
memory (the smallest device the call completes on: live blocks, unreleasable segment tails, the CUDA context) with
the GPU size, as <code>estimate --gpu-memory</code> does. Offered here: every bundled model and task, the model
card's dtype or one dtype for all components, and none or one memory switch without arguments; guidance, attention
and devices at the pipeline's defaults. Combinations of switches, offload groups, fp8 casting, quantization and
several GPUs: <code>python -m symbolic estimate</code>. URL parameters use the CLI's names, e.g.
<code>?model=sd15&amp;height=1024&amp;width=1024&amp;batch=2&amp;memory_option=vae_tiling&amp;gpu_memory=24GiB</code>.
</small></p>
<h2 style="font-size:1em">Result (the keys of <code>estimate --json</code>)</h2>
<pre id="result"></pre>
<script id="planner-data" type="application/json">/*DATA*/</script>
<script>
"use strict";
/*RUNTIME*/
/*CHECKS*/
const FUNCTIONS=[
/*FUNCTIONS*/
];
const DATA=JSON.parse(document.getElementById("planner-data").textContent);
class Refused extends Error {}
const refuse=(message)=>{throw new Refused(message);};
const BLANKS=/^[ \t\r\n]+|[ \t\r\n]+$/g;
const MAX_COUNT=BigInt(DATA.max_count);
const shown=(text)=>JSON.stringify(String(text).length>60?String(text).slice(0,45)+"...":String(text));

// checks.parse_int (plain ASCII integer, blanks around) and positive_int(..., MAX_COUNT)
function count(text,name){
  const s=String(text).replace(BLANKS,"");
  if(s.length>1000||!/^[+-]?[0-9]+$/.test(s))
    refuse(`${name}: must be a plain integer (ASCII digits 0-9, no '.', '_' or exponent), got ${shown(text)}`);
  const v=BigInt(s);
  if(v<1n)refuse(`${name}: must be an integer >= 1, got ${v}`);
  if(v>MAX_COUNT)refuse(`${name}: must be at most 2**53 (9007199254740992), got ${shown(text)}`);
  return v;
}
// units.parse_size: a plain decimal and a unit, exact, a fraction of a byte dropped
function size(text,name){
  const t=String(text);
  const m=t.length<=DATA.max_size_text?new RegExp("^(?:"+DATA.size_pattern+")$").exec(t):null;
  const unit=m?DATA.units[m[2].toLowerCase()]:undefined;
  if(!m||unit===undefined)refuse(`${name}: cannot read ${shown(t)} as a memory size; use e.g. 12GiB, 24GB, 512MiB or a byte count`);
  const [whole,frac=""]=m[1].split(".");
  const v=BigInt(whole+frac)*BigInt(unit)/(10n**BigInt(frac.length));
  if(v<1n)refuse(`${name}: must be at least one byte, got ${shown(t)}`);
  return v;
}
function single(params,name){
  const v=params[name];
  if(v===undefined)return undefined;
  if(v.length!==1)refuse(`${name}: given ${v.length} times`);
  return v[0];
}
function modelOf(text){
  const key=String(text).trim().toLowerCase();
  for(const [id,m] of Object.entries(DATA.models))if(id===key||m.hub_id.toLowerCase()===key)return id;
  refuse(`model: unknown model ${shown(text)}; bundled: ${Object.keys(DATA.models).join(", ")} (or their Hub ids)`);
}
const KNOWN=["model","task","height","width","frames","batch","dtype","memory_option","gpu_memory"];

// One point: the parameters (name -> list of strings) -> the API's result, or a Refused naming the parameter.
function estimate(params){
  for(const name of Object.keys(params)){
    if(DATA.cli_only.includes(name))refuse(`${name}: not offered on this page (its default applies); use python -m symbolic estimate --${name.replace(/_/g,"-")}`);
    if(!KNOWN.includes(name))refuse(`${name}: unknown parameter; known: ${KNOWN.join(", ")}`);
  }
  const id=modelOf(single(params,"model")??Object.keys(DATA.models)[0]);
  const model=DATA.models[id];
  const tasks=Object.keys(model.tasks);
  const task=single(params,"task")??tasks[0];
  if(!tasks.includes(task))refuse(`task: must be one of ${tasks.join(", ")}, got ${shown(task)}`);
  const dtypeText=single(params,"dtype");
  let dtype="";
  if(dtypeText!==undefined){
    dtype=DATA.dtype_aliases[String(dtypeText).trim().toLowerCase()];
    if(dtype===undefined)refuse(`dtype: unknown dtype ${shown(dtypeText)}; valid names: ${DATA.dtypes.join(", ")}`);
  }
  const switches=new Set();
  for(const raw of params.memory_option??[]){
    let o=String(raw).trim();
    o=DATA.switch_aliases[o]??o;
    if(o==="none")continue;
    if(/^(group_offload|layerwise_casting)/.test(o))refuse(`memory_option: ${shown(o)} is not offered on this page; use python -m symbolic estimate --memory-option`);
    if(!DATA.switches.includes(o))refuse(`memory_option: unknown option ${shown(o)}; known: ${DATA.switches.join(", ")} (cpu_offload is model_cpu_offload)`);
    switches.add(o);
  }
  if(switches.size>1)refuse(`memory_option: this page offers one switch at a time (${[...switches].join(" and ")}); python -m symbolic estimate takes combinations`);
  const sw=[...switches][0]??"";
  const points=model.tasks[task].points;
  const point=points[`${dtype}|${sw}`];
  if(point===undefined){
    if(points[`${dtype}|`]===undefined)refuse(`dtype: ${dtype} is not available for ${id}`);
    refuse(`memory_option: ${sw} does not apply to ${id} (the API refuses it)`);
  }
  const batch=params.batch===undefined?1n:count(single(params,"batch"),"batch");
  let frames;
  if(model.video)frames=params.frames===undefined?BigInt(model.default_frames):count(single(params,"frames"),"frames");
  else if(params.frames!==undefined)refuse(`frames: ${id} makes images; leave frames out`);
  const height=params.height===undefined?BigInt(model.default_height):count(single(params,"height"),"height");
  const width=params.width===undefined?BigInt(model.default_width):count(single(params,"width"),"width");
  checkPoint(model.tasks[task].size_facts,{height,width},refuse); // api.SIZE_RULES, generated
  const gpu=params.gpu_memory===undefined?undefined:size(single(params,"gpu_memory"),"gpu_memory");
  // api.values_of; symbols a pipeline does not use are 1 (runtime.positional)
  const values={H:height,W:width,B:batch,P:1n,G:BigInt(model.guidance_copies),b:BigInt(point.b)};
  if(model.video)values.T=frames;
  const args=DATA.arg_names.map((n)=>$q(values[n]??1n));
  const raw=FUNCTIONS[point.function](...args);
  const out={};
  DATA.functions[point.function].forEach((name,i)=>{out[name]=$C(raw[i])[0];}); // runtime.ceil_int
  // api.shape
  const pick=(prefix)=>Object.fromEntries(Object.keys(out).filter((k)=>k.startsWith(prefix)).map((k)=>[k.slice(prefix.length),out[k]]));
  const stages=pick("stage:");
  let peakStage=null;
  for(const [s,v] of Object.entries(stages))if(peakStage===null||v>stages[peakStage])peakStage=s;
  const result={model:model.name,pipeline:model.pipeline,task,dtype:point.dtype,
    peak_allocated_bytes:out.peak_allocated_bytes,peak_reserved_bytes:out.peak_reserved_bytes,
    nvidia_smi_bytes:out.nvidia_smi_bytes,min_gpu_memory_bytes:out.min_gpu_memory_bytes,peak_stage:peakStage,
    weights_bytes:out.weights_bytes,stages,component_weights_bytes:pick("component:"),
    stage_activation_bytes:pick("activation:"),latent_shape:Object.values(pick("latent:")),tokens:out.tokens};
  if(gpu!==undefined){result.gpu_memory_bytes=gpu;result.fits=result.min_gpu_memory_bytes<=gpu;}
  return result;
}
// JSON with BigInt written as exact integers
function toJSON(value){
  return JSON.stringify(value,(k,v)=>typeof v==="bigint"?"\u0000"+v:v,2).replace(/"\\u0000(-?[0-9]+)"/g,"$1");
}
function readParams(search){
  const params={};
  for(const [k,v] of new URLSearchParams(search)){const name=k.replace(/-/g,"_");(params[name]??=[]).push(v);}
  return params;
}
function attempt(params){
  try{return estimate(params);}catch(e){if(e instanceof Refused)return {error:e.message};throw e;}
}
const gib=(v)=>(Number(v)/DATA.gib).toFixed(3)+" GiB";
const el=(tag,attrs={},text)=>{const e=document.createElement(tag);for(const [k,v] of Object.entries(attrs))e.setAttribute(k,v);if(text!==undefined)e.textContent=text;return e;};
function render(result){
  const view=document.getElementById("view");
  view.replaceChildren();
  document.getElementById("message").textContent=result.error??"";
  document.getElementById("result").textContent=toJSON(result);
  if(result.error)return;
  const scale=[result.peak_allocated_bytes,result.min_gpu_memory_bytes,result.gpu_memory_bytes??0n].reduce((a,b)=>a>b?a:b);
  const pct=(v)=>(100*Number(v)/Number(scale)).toFixed(3)+"%";
  const bars=el("div",{class:"bars"});
  const legend=el("div",{class:"legend"});
  legend.innerHTML='<span class="weights"></span>weights resident<span class="act"></span>activations';
  bars.append(legend);
  const row=(label,total,act,cls)=>{
    const r=el("div",{class:"row "+(cls??"")});
    const track=el("div",{class:"track"});
    track.append(el("div",{class:"seg weights",style:`left:0;width:${pct(total-act)}`}));
    track.append(el("div",{class:"seg act",style:`left:${pct(total-act)};width:${pct(act)}`}));
    if(result.gpu_memory_bytes!==undefined)track.append(el("div",{class:"gpu",style:`left:${pct(result.gpu_memory_bytes)}`}));
    r.append(el("span",{},label),track,el("span",{class:"num"},gib(total)));
    bars.append(r);
  };
  for(const [s,v] of Object.entries(result.stages))row(s,v,result.stage_activation_bytes[s],s===result.peak_stage?"peak":"");
  view.append(bars);
  const table=el("table");
  for(const [label,key,meaning] of [["weights","weights_bytes","parameters and buffers"],
      ["peak allocated","peak_allocated_bytes","torch.cuda.max_memory_allocated, stage "+result.peak_stage],
      ["peak reserved","peak_reserved_bytes","caching allocator segments"],
      ["nvidia-smi","nvidia_smi_bytes","reserved + CUDA context, memory plentiful"],
      ["minimum GPU","min_gpu_memory_bytes","smallest device memory the call completes in"]]){
    const tr=el("tr");tr.append(el("td",{},label),el("td",{class:"num"},gib(result[key])),el("td",{},meaning));table.append(tr);
  }
  view.append(table);
  if(result.fits!==undefined)
    view.append(el("p",{class:result.fits?"fits":"nofit"},`${gib(result.min_gpu_memory_bytes)} needed at least: ${result.fits?"fits":"does NOT fit"} in ${gib(result.gpu_memory_bytes)}`));
}
// The form: its fields carry the URL parameters' names.
const form=document.getElementById("form");
const field=(name)=>form.elements[name];
function options(select,entries,value){
  select.replaceChildren(...entries.map(([v,label])=>el("option",{value:v},label)));
  if(entries.some(([v])=>v===value))select.value=value;
}
function refreshChoices(){
  const id=field("model").value,model=DATA.models[id];
  options(field("task"),Object.keys(model.tasks).map((t)=>[t,t]),field("task").value);
  const points=model.tasks[field("task").value].points;
  options(field("dtype"),[["","model card ("+model.default_dtype+")"],...DATA.dtypes.filter((d)=>points[d+"|"]).map((d)=>[d,d])],field("dtype").value);
  const dtype=field("dtype").value;
  options(field("memory_option"),[["","none"],...DATA.switches.filter((s)=>points[dtype+"|"+s]).map((s)=>[s,s])],field("memory_option").value);
  field("frames").disabled=!model.video;
  for(const [name,key] of [["height","default_height"],["width","default_width"],["frames","default_frames"]])
    field(name).placeholder=model[key]??"";
}
function formParams(){
  const params={model:[field("model").value],task:[field("task").value]};
  for(const name of ["height","width","frames","batch","dtype","memory_option","gpu_memory"]){
    const f=field(name);
    if(!f.disabled&&f.value.trim()!=="")params[name]=[f.value];
  }
  return params;
}
function fill(params){
  const first=(n)=>(params[n]??[""])[0];
  try{field("model").value=modelOf(first("model")||Object.keys(DATA.models)[0]);}catch(e){}
  refreshChoices();
  for(const name of ["task","dtype"])if(params[name])field(name).value=first(name);
  refreshChoices();
  const sw=(params.memory_option??[]).filter((o)=>o!=="none");
  if(sw.length===1)field("memory_option").value=DATA.switch_aliases[sw[0]]??sw[0];
  for(const name of ["height","width","frames","batch","gpu_memory"])if(params[name])field(name).value=first(name);
}
function update(){
  refreshChoices();
  const params=formParams();
  render(attempt(params));
  try{history.replaceState(null,"","?"+new URLSearchParams(Object.entries(params).flatMap(([k,vs])=>vs.map((v)=>[k,v]))));}catch(e){}
}
options(field("model"),Object.entries(DATA.models).map(([id,m])=>[id,id+" ("+m.pipeline+")"]));
const initial=readParams(location.search);
if(initial.points){
  let list;
  try{list=JSON.parse(initial.points[0]);}catch(e){list=null;}
  const results=Array.isArray(list)&&Object.keys(initial).length===1?
    list.map((p)=>attempt(Object.fromEntries(Object.entries(p).map(([k,v])=>[k.replace(/-/g,"_"),Array.isArray(v)?v.map(String):[String(v)]])))):
    {error:"points: must be the only parameter, a JSON list of parameter objects"};
  document.getElementById("result").textContent=toJSON(results);
}else{
  fill(initial);
  refreshChoices();
  render(attempt(initial));
  form.addEventListener("change",update);
  form.addEventListener("input",(e)=>{if(e.target.tagName==="INPUT")update();});
}
</script>
</body>
</html>
"""
