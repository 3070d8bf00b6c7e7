"""ModelCache: a hit does not reload, LRU eviction under a tiny budget, thread safety."""

from __future__ import annotations

import threading
from collections import Counter

import torch

from hdr_mcp.models.cache import CacheKey, ModelCache, pipeline_bytes
from hdr_mcp.models.loading import load_pipeline


def _counting_loader(calls: Counter, name: str, tiny_cache):
    def load():
        calls[name] += 1
        return load_pipeline(name, tiny_cache_dir=tiny_cache)
    return load


def test_a_hit_does_not_reload(tiny_cache):
    cache, calls = ModelCache(budget_bytes=10**9), Counter()
    key = CacheKey.of("tiny-flux.1-dev")
    first = cache.get_or_load(key, _counting_loader(calls, "tiny-flux.1-dev", tiny_cache))
    second = cache.get_or_load(key, _counting_loader(calls, "tiny-flux.1-dev", tiny_cache))
    assert first is second and calls["tiny-flux.1-dev"] == 1
    assert cache.stats() == {"hits": 1, "misses": 1, "evictions": 0, "entries": 1}
    (row,) = cache.describe()
    assert row["model"] == "tiny-flux.1-dev" and row["hits"] == 1
    assert row["bytes"] == pipeline_bytes(first) > 100_000
    assert row["last_used"] >= row["loaded_at"]


def test_lru_eviction_under_a_tiny_budget(tiny_cache):
    names = ["tiny-flux.1-dev", "tiny-flux.2-klein-4b", "tiny-qwen-image"]
    sizes = {n: pipeline_bytes(load_pipeline(n, tiny_cache_dir=tiny_cache)) for n in names}
    assert sizes["tiny-flux.2-klein-4b"] < sizes["tiny-qwen-image"]
    budget = sizes["tiny-flux.1-dev"] + sizes["tiny-qwen-image"] + 1000
    cache, calls = ModelCache(budget_bytes=budget), Counter()
    keys = {n: CacheKey.of(n) for n in names}
    for name in names[:2]:
        cache.get_or_load(keys[name], _counting_loader(calls, name, tiny_cache))
    cache.get_or_load(keys["tiny-flux.1-dev"], _counting_loader(calls, "x", tiny_cache))  # use
    cache.get_or_load(keys["tiny-qwen-image"], _counting_loader(calls, "tiny-qwen-image",
                                                                tiny_cache))
    # flux.2 was least recently used (flux.1 was used again): only it goes
    assert [k.model for k in cache.loaded_keys()] == ["tiny-flux.1-dev", "tiny-qwen-image"]
    assert cache.used_bytes() <= budget
    assert cache.stats() == {"hits": 1, "misses": 3, "evictions": 1, "entries": 2}
    assert calls == Counter({"tiny-flux.1-dev": 1, "tiny-flux.2-klein-4b": 1,
                             "tiny-qwen-image": 1})


def test_the_entry_just_loaded_survives_an_impossible_budget(tiny_cache):
    cache = ModelCache(budget_bytes=1)
    key = CacheKey.of("tiny-ltx-2.3")
    cache.get_or_load(key, lambda: load_pipeline("tiny-ltx-2.3", tiny_cache_dir=tiny_cache))
    assert cache.holds(key) and cache.stats()["evictions"] == 0


def test_expected_bytes_makes_room_before_loading():
    cache = ModelCache(budget_bytes=100, measure=lambda value: value)
    cache.get_or_load(CacheKey.of("a"), lambda: 60)
    cache.get_or_load(CacheKey.of("b"), lambda: 30)
    holds_a_during_load = []
    cache.get_or_load(CacheKey.of("c"), lambda: holds_a_during_load.append(
        cache.holds(CacheKey.of("a"))) or 50, expected_bytes=50)
    assert holds_a_during_load == [False]
    assert [k.model for k in cache.loaded_keys()] == ["b", "c"]


def test_keys_differ_by_lora_set_dtype_and_device():
    base = CacheKey.of("qwen-image", dtype="bfloat16", device="cuda:0")
    assert CacheKey.of("qwen-image", dtype="bfloat16", device="cuda:0",
                       loras={"b.safetensors": 1.0, "a.safetensors": 0.5}).loras == (
        ("a.safetensors", 0.5), ("b.safetensors", 1.0))
    assert base != CacheKey.of("qwen-image", dtype="bfloat16", device="cuda:1")
    assert base != CacheKey.of("qwen-image", dtype="bfloat16", device="cuda:0",
                               loras={"a.safetensors": 1.0})
    assert base.is_cuda and not CacheKey.of("x").is_cuda


def test_concurrent_requests_load_once():
    cache, calls, barrier = ModelCache(budget_bytes=10**6, measure=lambda v: 1), Counter(), \
        threading.Barrier(8)

    def loader():
        calls["n"] += 1
        return torch.zeros(1)

    def ask():
        barrier.wait()
        cache.get_or_load(CacheKey.of("same"), loader)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls["n"] == 1 and cache.stats()["hits"] == 7
