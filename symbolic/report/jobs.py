"""The report's expensive results: cached with the package's digest, computed in parallel processes on a miss
(``cached_jobs``), and the module-level jobs it runs (``asymptotics_job``, ``max_square_job``)."""
from __future__ import annotations

import json
import os

from symbolic.core.units import GiB
from symbolic.core.evaluate.cache import load_or_build
from symbolic.analysis.asymptotics import analyse
from symbolic.analysis.planning import max_square_size


class _Miss(Exception):
    pass


def _raise_miss():
    raise _Miss


def _roundtrip(value):
    return json.loads(json.dumps(value))


def cached_jobs(namespace: str, jobs: dict, workers: int | None = None) -> dict:
    """``{name: function(*args)}`` for ``jobs = {name: (function, args)}`` (module-level functions, JSON results).

    Each result comes from the package's on-disk cache (``symbolic.core.evaluate.cache``, keyed by the package's source digest)
    when present; the missing ones are computed in a pool of processes (in the order given) and stored. Results
    always pass through JSON, so a cold and a warm build print the same values."""
    def key(name):
        function, args = jobs[name]
        return f"{function.__name__}{args!r}"

    results, missing = {}, []
    for name in jobs:
        try:
            results[name] = _roundtrip(load_or_build(f"report-{namespace}", key(name), _raise_miss, ("value",)))["value"]
        except _Miss:
            missing.append(name)
    if missing:
        computed = _run_parallel({name: jobs[name] for name in missing}, workers)
        for name in missing:
            entry = load_or_build(f"report-{namespace}", key(name), lambda name=name: {"value": computed[name]},
                                  ("value",))
            results[name] = _roundtrip(entry)["value"]
    return {name: results[name] for name in jobs}


def _run_parallel(jobs: dict, workers: int | None) -> dict:
    import concurrent.futures
    import multiprocessing

    workers = max(1, min(len(jobs), workers or os.cpu_count() or 1))
    if workers == 1:
        return {name: function(*args) for name, (function, args) in jobs.items()}
    context = multiprocessing.get_context("spawn")  # a clean interpreter per worker (safe inside a kernel)
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {name: pool.submit(function, *args) for name, (function, args) in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


def asymptotics_job(config_items: tuple) -> dict:
    """``symbolic.analysis.asymptotics.analyse`` for one configuration (``config_items``: sorted (key, value) pairs)."""
    return analyse(**dict(config_items))


def max_square_job(config_items: tuple, budgets_gib: tuple, criterion: str = "nvidia-smi") -> list:
    """``symbolic.analysis.planning.max_square_size`` for each budget (GiB) of one configuration."""
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in dict(config_items).items()}
    return [max_square_size(budget * GiB, criterion, **kwargs)["size"] for budget in budgets_gib]
