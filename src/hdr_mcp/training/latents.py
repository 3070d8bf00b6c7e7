"""``precompute_latents``: HDR targets -> curve -> frozen float32 VAE -> safetensors shards.

DiffHDR measured that caching the VAE latents of the HDR targets cuts a training step by
35-45 %: the VAE encoder (float32, as HDR needs) runs once per item and augmentation variant
instead of once per step. The text encoder's output is cached with it.

Cache layout (``output_dir``)::

    latent_config.json      what the latents mean (checked by train_lora) + the shard table
    shard_00000.safetensors tensors "<item>.<variant>.<name>" (x0, luminance, prompt_embeds, ...)
    ...

``latent_config.json`` records the family, revision, curve and its parameters, exposure,
resolution, buckets, frames, dataset, captions policy, split and augmentation; training with a
cache whose record differs from the run's config is an :class:`InvalidArgument` naming the
field. Shards are written atomically (temporary file + rename), so a retried or resumed job
keeps every finished shard and redoes at most one.

:func:`encode_item` is the one function that turns a :class:`~hdr_mcp.training.datasets.Sample`
into tensors; training without a cache calls it too, which is why a cached run's loss sequence
equals an uncached one's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.params.training import DataConfig, PrecomputeConfig

__all__ = ["CACHE_FORMAT", "LATENT_CONFIG", "LatentCache", "cache_record", "encode_item",
           "precompute"]

LATENT_CONFIG = "latent_config.json"
CACHE_FORMAT = 1
#: DataConfig fields a cache depends on (everything that changes the tensors or which items).
RECORD_FIELDS = ("encoding", "nits_per_unit", "gamma", "max_value", "exposure", "resolution",
                 "buckets", "frames", "validation_fraction", "missing_caption", "default_caption",
                 "negative_pixels", "exposure_shift_stops", "flip", "degradations",
                 "augment_variants", "trigger_words", "seed")


def cache_record(config: DataConfig, family: str, revision: str | None) -> dict[str, Any]:
    """The fields a cache is made for (``latent_config.json`` minus the shard table)."""
    record = {name: getattr(config, name) for name in RECORD_FIELDS}
    record.update(format=CACHE_FORMAT, family=family, revision=revision,
                  dataset=str(Path(config.dataset).expanduser().resolve()))
    return record


def vae_input(target, config: DataConfig):
    """Scene-linear target -> the VAE's input: exposure, the curve, code [0, 1] -> [-1, 1]."""
    from hdr_mcp.color import encode

    code = encode(target * (2.0 ** config.exposure), config.encoding, **config.curve_params())
    return code * 2.0 - 1.0


def encode_item(pipe, family, sample, config: DataConfig) -> dict[str, Any]:
    """One augmented sample -> its training tensors (float32, no batch dimension)."""
    import torch

    from hdr_mcp.training.losses import latent_luminance

    target = torch.from_numpy(sample.target)
    with torch.no_grad():
        x = vae_input(target, config)[None].to(pipe.vae.device, torch.float32)
        x0 = family.encode_target(pipe, x)[0].float().cpu()
        out = {"x0": x0, "luminance": latent_luminance(target, x0.shape[1:]).float()}
        out.update({k: v.cpu() for k, v in family.encode_text(pipe, sample.caption).items()})
        if sample.reference is not None:
            reference = torch.from_numpy(sample.reference)[None].to(pipe.vae.device)
            out.update({k: v.float().cpu()
                        for k, v in family.encode_reference(pipe, reference).items()})
    return {k: v.contiguous().clone() for k, v in out.items()}  # no storage shared between items


class LatentCache:
    """A finished cache folder, read shard by shard."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder).expanduser()
        path = self.folder / LATENT_CONFIG
        if not path.is_file():
            raise InvalidArgument("latents_dir", str(folder), f"no {LATENT_CONFIG}: not a "
                                  "latent cache (make one with precompute_latents)")
        self.record = json.loads(path.read_text())
        if not self.record.get("complete"):
            raise InvalidArgument("latents_dir", str(folder), "the cache is incomplete: run "
                                  "precompute_latents again to finish it")
        self._where = {(int(i), int(v)): shard["file"] for shard in self.record["shards"]
                       for i, v in shard["units"]}
        self._open: dict[str, Any] = {}

    def check(self, expected: dict[str, Any]) -> None:
        """:class:`InvalidArgument` naming the first field where the cache differs."""
        for name, value in expected.items():
            cached = self.record.get(name)
            if cached != value:
                raise InvalidArgument("latents_dir", str(self.folder), f"the cache was made with "
                                      f"{name}={cached!r}, this run has {name}={value!r}")

    def get(self, index: int, variant: int) -> dict[str, Any]:
        """The tensors of one item variant (read lazily: shards are memory-mapped)."""
        from safetensors import safe_open

        file = self._where.get((index, variant))
        if file is None:
            raise InvalidArgument("latents_dir", str(self.folder), f"holds no item {index} "
                                  f"variant {variant}")
        if file not in self._open:
            self._open[file] = safe_open(str(self.folder / file), framework="pt")
        shard = self._open[file]
        prefix = f"{index}.{variant}."
        names = shard.keys()  # a safe_open handle is not iterable itself
        return {k[len(prefix):]: shard.get_tensor(k) for k in names if k.startswith(prefix)}


# -- the job ------------------------------------------------------------------------------------


def _units(index, variants: int) -> list[tuple[int, int]]:
    return [(item.index, v) for item in index.train for v in range(variants)]


def _write_record(folder: Path, record: dict[str, Any]) -> None:
    from hdr_mcp.io.atomic import atomic_path

    with atomic_path(folder / LATENT_CONFIG) as temporary:
        temporary.write_text(json.dumps(record, indent=2) + "\n")


def _start(folder: Path, record: dict[str, Any], overwrite: bool) -> None:
    """Resume a cache made for the same record; refuse (or with ``overwrite`` clear) another."""
    path = folder / LATENT_CONFIG
    if path.is_file():
        old = json.loads(path.read_text())
        fields = [k for k in record if k not in ("shards", "complete")]
        differs = next((k for k in fields if old.get(k) != record[k]), None)
        if differs is None:
            return
        if not overwrite:
            raise InvalidArgument("output_dir", str(folder), f"holds a cache made with "
                                  f"{differs}={old.get(differs)!r}; pass overwrite=true to "
                                  "replace it")
        for shard in folder.glob("shard_*.safetensors"):
            shard.unlink()
    elif any(folder.iterdir()) and not overwrite:
        from hdr_mcp.outputs import refuse_nonempty

        refuse_nonempty("output_dir", folder)
    _write_record(folder, record)


def _save_shard(path: Path, tensors: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    from hdr_mcp.io.atomic import atomic_path

    with atomic_path(path) as temporary:
        save_file(tensors, str(temporary))


def precompute(config: PrecomputeConfig, ctx) -> dict[str, Any]:
    """Write (or finish) the latent cache of ``config`` into ``config.output_dir``."""
    from hdr_mcp.training.datasets import load_sample, scan
    from hdr_mcp.training.session import load_for_training

    loaded, family = load_for_training(config, ctx, without=("transformer",))
    index = scan(config, loaded.family)
    units = _units(index, config.augment_variants)
    shards = [units[i:i + config.shard_size] for i in range(0, len(units), config.shard_size)]
    folder = Path(config.output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    record = cache_record(config, loaded.family.name, loaded.revision)
    record["shards"] = [{"file": f"shard_{k:05d}.safetensors", "units": s}
                        for k, s in enumerate(shards)]
    _start(folder, {**record, "complete": False}, config.overwrite)
    items = {item.index: item for item in index.train}
    kept = 0
    for k, shard in enumerate(shards):
        path = folder / record["shards"][k]["file"]
        if path.is_file():
            kept += 1
        else:
            ctx.raise_if_stopped()
            tensors = {}
            for i, v in shard:
                sample = load_sample(items[i], index.buckets[i], config, loaded.family, v)
                for name, t in encode_item(loaded.pipe, family, sample, config).items():
                    tensors[f"{i}.{v}.{name}"] = t
            _save_shard(path, tensors)
        ctx.progress(k + 1, len(shards), f"shard {k + 1}/{len(shards)}")
    _write_record(folder, {**record, "complete": True})
    return {"output_dir": str(folder), "latent_config": str(folder / LATENT_CONFIG),
            "shards": len(shards), "shards_kept": kept, "items": len(items),
            "variants": config.augment_variants, "family": loaded.family.name,
            "encoding": config.encoding}
