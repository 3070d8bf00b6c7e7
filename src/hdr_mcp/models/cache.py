"""The worker's model cache: loaded pipelines kept warm between jobs.

A 20B model takes minutes to load and a job seconds, so a worker keeps pipelines in a
:class:`ModelCache`, keyed by everything that makes two pipelines different
(:class:`CacheKey`: model or folder, revision, dtype, device, offload mode and the LoRA set with
scales). Entries are evicted least-recently-used when the memory in use exceeds the budget.

Memory accounting
-----------------
* CUDA keys: ``torch.cuda.memory_allocated(device)`` (what PyTorch holds on that device) against
  ``budget_bytes``; the budget defaults to 90 % of the device's total memory.
* CPU keys: the sum of the parameter and buffer bytes of every ``torch.nn.Module`` component of
  the cached pipelines (an estimate: process RSS also counts allocator slack, Python objects and
  memory-mapped files, which makes it too noisy to drive eviction). The budget defaults to half
  of the machine's RAM (``psutil``) or 16 GiB.

Eviction happens after a load (the entry just loaded is never evicted by its own load) and,
when the caller passes ``expected_bytes``, before it, to make room. Evicting drops the cache's
reference, runs the garbage collector and empties the CUDA caching allocator.

Thread-safe: one lock guards the table and loads are serialised (a worker runs one job at a
time; two threads asking for the same key load it once).
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["CacheKey", "ModelCache", "cached_pipeline", "local_cache", "pipeline_bytes"]


@dataclass(frozen=True)
class CacheKey:
    """What identifies a loaded pipeline. ``loras`` is a sorted tuple of (source, scale)."""

    model: str
    revision: str | None = None
    dtype: str = "float32"
    device: str = "cpu"
    offload: str | None = None
    loras: tuple[tuple[str, float], ...] = ()

    @classmethod
    def of(cls, model: Any, *, revision: str | None = None, dtype: str = "float32",
           device: str = "cpu", offload: str | None = None,
           loras: dict[str, float] | None = None) -> CacheKey:
        """Build a key, normalising the LoRA set to a sorted tuple."""
        return cls(str(model), revision, str(dtype), str(device), offload,
                   tuple(sorted((str(k), float(v)) for k, v in (loras or {}).items())))

    @property
    def is_cuda(self) -> bool:
        return self.device.startswith("cuda")


@dataclass
class _Entry:
    value: Any
    bytes: int
    loaded_at: float
    load_s: float
    last_used: float
    hits: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def pipeline_bytes(pipe: Any) -> int:
    """Parameter + buffer bytes of every ``torch.nn.Module`` component of ``pipe`` (or of
    ``pipe`` itself when it is a module; objects with a ``pipe`` attribute are unwrapped)."""
    torch = sys.modules.get("torch")
    if torch is None:  # nothing made by torch exists before torch is imported: do not pay it
        return 0

    pipe = getattr(pipe, "pipe", pipe)
    modules = [pipe] if isinstance(pipe, torch.nn.Module) else [
        c for c in getattr(pipe, "components", {}).values() if isinstance(c, torch.nn.Module)]
    seen: set[int] = set()
    total = 0
    for module in modules:
        for tensor in [*module.parameters(), *module.buffers()]:
            if id(tensor) not in seen:
                seen.add(id(tensor))
                total += tensor.numel() * tensor.element_size()
    return total


def _default_budget(cuda_device: str | None) -> int:
    if cuda_device is not None:
        import torch

        return int(torch.cuda.get_device_properties(cuda_device).total_memory * 0.9)
    try:
        import psutil

        return int(psutil.virtual_memory().total * 0.5)
    except ImportError:
        return 16 * 2**30


class ModelCache:
    """LRU cache of loaded pipelines under a memory budget (bytes).

    Parameters
    ----------
    budget_bytes
        Memory allowed for cached pipelines; None picks the default for the device of each key
        (see module docstring).
    measure
        ``measure(value) -> bytes`` for CPU entries; defaults to :func:`pipeline_bytes`.
    """

    def __init__(self, budget_bytes: int | None = None, *,
                 measure: Callable[[Any], int] | None = None) -> None:
        self.budget_bytes = budget_bytes
        self._measure = measure or pipeline_bytes
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()
        self._lock = threading.RLock()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    # ----------------------------------------------------------------- queries

    def holds(self, key: CacheKey) -> bool:
        """True when ``key`` is loaded (does not count as a use)."""
        with self._lock:
            return key in self._entries

    def loaded_keys(self) -> list[CacheKey]:
        """Keys from least to most recently used."""
        with self._lock:
            return list(self._entries)

    def used_bytes(self, key: CacheKey | None = None) -> int:
        """Memory in use that counts against the budget for ``key``'s device (CPU: the sum of
        the cached estimates; CUDA: ``torch.cuda.memory_allocated``)."""
        if key is not None and key.is_cuda:
            import torch

            return int(torch.cuda.memory_allocated(key.device))
        with self._lock:
            return sum(e.bytes for k, e in self._entries.items() if not k.is_cuda)

    def budget_for(self, key: CacheKey) -> int:
        if self.budget_bytes is not None:
            return self.budget_bytes
        return _default_budget(key.device if key.is_cuda else None)

    def describe(self) -> list[dict[str, Any]]:
        """What is loaded, most recently used first: the key's fields, ``bytes``,
        ``loaded_at`` / ``last_used`` (Unix seconds), ``load_s`` and ``hits``."""
        with self._lock:
            rows = []
            for key, entry in reversed(self._entries.items()):
                row = asdict(key)
                row["loras"] = [list(pair) for pair in key.loras]
                row.update(bytes=entry.bytes, loaded_at=entry.loaded_at,
                           last_used=entry.last_used, load_s=round(entry.load_s, 3),
                           hits=entry.hits)
                rows.append(row)
            return rows

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "evictions": self.evictions,
                    "entries": len(self._entries)}

    # ----------------------------------------------------------------- updates

    def get_or_load(self, key: CacheKey, loader: Callable[[], Any], *,
                    expected_bytes: int | None = None) -> Any:
        """The cached value for ``key``, or ``loader()`` stored under it.

        ``expected_bytes`` (optional) makes room before loading. After loading, least recently
        used entries are evicted until the budget holds (never the new entry itself).
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                entry.hits += 1
                entry.last_used = time.time()
                self.hits += 1
                return entry.value
            self.misses += 1
            if expected_bytes:
                self._evict_until(key, room_for=expected_bytes)
            started = time.perf_counter()
            value = loader()
            load_s = time.perf_counter() - started
            size = self._size(key, value)
            now = time.time()
            self._entries[key] = _Entry(value, size, now, load_s, now)
            self._evict_until(key, room_for=0)
            return value

    def evict(self, key: CacheKey) -> bool:
        """Drop ``key``; True if it was loaded."""
        with self._lock:
            entry = self._entries.pop(key, None)
        if entry is None:
            return False
        self.evictions += 1
        self._release(key, entry)
        return True

    def clear(self) -> None:
        for key in self.loaded_keys():
            self.evict(key)

    # ----------------------------------------------------------------- internals

    def _size(self, key: CacheKey, value: Any) -> int:
        return self._measure(value)

    def _same_pool(self, a: CacheKey, b: CacheKey) -> bool:
        return a.device == b.device if a.is_cuda or b.is_cuda else True

    def _evict_until(self, current: CacheKey, room_for: int) -> None:
        budget = self.budget_for(current)
        while self.used_bytes(current) + room_for > budget:
            victims = [k for k in self._entries if k != current and self._same_pool(k, current)]
            if not victims:
                return
            self.evict(victims[0])

    @staticmethod
    def _release(key: CacheKey, entry: _Entry) -> None:
        del entry.value
        gc.collect()
        if key.is_cuda:
            import torch

            torch.cuda.empty_cache()


def local_cache(holder: dict[str, Any] = {}) -> ModelCache:  # noqa: B006 (one per process)
    """A cache for library calls without a job context (one per process)."""
    if "cache" not in holder:
        holder["cache"] = ModelCache()
    return holder["cache"]


def cached_pipeline(model: str, *, family: Any, ctx: Any = None, revision: str | None = None,
                    lora: str | None = None, lora_scale: float = 1.0,
                    allow_cpu: bool = False, adapter_name: str = "hdr") -> Any:
    """The :class:`~hdr_mcp.models.loading.LoadedPipeline` of ``model`` (with the HDR LoRA
    ``lora`` loaded as ``adapter_name``) from the worker's cache (``ctx.models``; a
    per-process cache without a context), on ``ctx.device`` with ``ctx.offload``; the LoRA set
    to ``lora_scale``. A second job on the same model and LoRA does not load them again."""
    from hdr_mcp.models.loading import load_pipeline
    from hdr_mcp.models.lora import load_hdr_lora, resolve_lora_source

    device = ctx.device if ctx is not None else "cpu"
    offload = ctx.offload if ctx is not None and device != "cpu" else None
    lora_path = str(resolve_lora_source(lora)) if lora else None
    key = CacheKey.of(model, revision=revision, device=device, offload=offload,
                      loras={lora_path: 1.0} if lora_path else None)

    def load() -> Any:
        loaded = load_pipeline(model, revision=revision, device=device, offload=offload,
                               allow_large_on_cpu=allow_cpu)
        loaded.pipe.set_progress_bar_config(disable=True)
        if lora_path:
            load_hdr_lora(loaded.pipe, lora_path, family=family, adapter_name=adapter_name)
        return loaded

    cache = ctx.models if ctx is not None else local_cache()
    loaded = cache.get_or_load(key, load)
    if lora_path:
        loaded.pipe.set_adapters([adapter_name], adapter_weights=[lora_scale])
    return loaded
