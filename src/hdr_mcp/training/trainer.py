"""``train_lora``: rectified flow matching of a peft LoRA on a frozen diffusion transformer.

Steps of :func:`train`:

1. check everything before any weight is read: the config, the output folder, the dataset
   (:func:`hdr_mcp.training.datasets.scan`), the latent cache's record, the checkpoint to
   resume from (it must belong to this run: same fingerprint);
2. load the model (VAE float32, transformer bfloat16 on CUDA), add the LoRA (per-family targets
   from the registry; Qwen-Image: Q/K/V/out of both streams), AdamW + the schedule;
3. for every step: the global batch from :class:`~hdr_mcp.training.schedule.BatchSchedule`,
   this process's share of it, noise and timesteps from a generator seeded by (seed, step),
   the flow-matching loss (:mod:`hdr_mcp.training.losses`), a clipped AdamW step;
4. every ``checkpoint_every`` steps a checkpoint (:mod:`hdr_mcp.training.checkpoints`), every
   ``validation_every`` steps the validation loss and, for text-to-image families, renders of
   the validation prompts (EXR + preview + peak and dynamic range); TensorBoard scalars;
5. at the end the LoRA in diffusers format and in the family's ComfyUI layout, both carrying
   the HDR metadata (encoding, base model) that ``generate_hdr`` reads.

Cancellation (``ctx.should_stop()``) saves a checkpoint first. Data parallelism comes from
:class:`accelerate.Accelerator` (``accelerate launch trainers/train_lora.py``): each process
takes an equal share of every global batch; the loss is the mean over the global batch, so the
adapter does not depend on the number of processes.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.params.training import TrainConfig

__all__ = ["Run", "train"]

ADAPTER = "default"
FINGERPRINT_FIELDS = ("model", "rank", "lora_alpha", "lora_streams", "lora_targets",
                      "batch_size",
                      "learning_rate", "lr_scheduler", "warmup_steps", "weight_decay",
                      "weighting_scheme", "logit_mean", "logit_std", "mode_scale",
                      "highlight_weight", "highlight_threshold")
MAX_VALIDATION_RENDERS = 2
#: What a run writes in its output_dir (overwrite removes exactly these).
OWNED = ("checkpoints", "lora", "validation", "logs", "result.json")


def step_seed(seed: int, step: int, stream: int = 0) -> int:
    """Seed of step ``step``'s noise and timesteps (independent of processes and resumes);
    ``stream`` 1 is the validation loss's."""
    import numpy as np

    return int(np.random.default_rng([seed, step, stream, 0xF10]).integers(0, 2**62))


@dataclass
class Run:
    """A set-up training run (what every step needs)."""

    config: TrainConfig
    ctx: Any
    loaded: Any
    family: Any
    index: Any
    accelerator: Any
    model: Any
    """The transformer as prepared by accelerate (DDP-wrapped when distributed)."""
    optimizer: Any
    lr_scheduler: Any
    timesteps: Any
    schedule: Any
    source: Any
    output_dir: Path
    fingerprint: dict[str, Any]
    step: int = 0
    losses: list[float] = field(default_factory=list)
    validation: list[dict[str, Any]] = field(default_factory=list)
    writer: Any = None
    started: float = field(default_factory=time.monotonic)
    first_step: int = 0

    @property
    def transformer(self):
        return self.loaded.pipe.transformer

    @property
    def is_main(self) -> bool:
        return self.accelerator.is_main_process


# -- 1. checks ----------------------------------------------------------------------------------


def _output_dir(config: TrainConfig, ctx: Any, *, claim: bool = True) -> Path:
    """The run's folder; ``claim`` (the main process): refuse one holding files unless
    resuming or overwriting (then the earlier run's files go)."""
    from hdr_mcp.outputs import refuse_nonempty, remove_owned

    if config.output_dir is None:
        raise InvalidArgument("output_dir", None, "required: the folder for checkpoints and "
                              "the LoRA")
    folder = Path(config.output_dir).expanduser().absolute()
    resuming = config.resume is not None or getattr(ctx, "attempt", 1) > 1
    if folder.exists() and not folder.is_dir():
        raise InvalidArgument("output_dir", str(folder), "exists and is not a folder")
    if claim and not resuming and not config.overwrite:
        refuse_nonempty("output_dir", folder)
    if claim and not resuming and config.overwrite:
        remove_owned(folder, OWNED)  # a later resume='latest' must not find the old checkpoints
    return folder


def fingerprint(config: TrainConfig, family_name: str, revision: str | None) -> dict[str, Any]:
    from hdr_mcp.training.latents import cache_record

    record = cache_record(config, family_name, revision)
    record.pop("format")
    record.update({name: getattr(config, name) for name in FINGERPRINT_FIELDS})
    record["family"] = family_name
    return record


class _Source:
    """Item tensors from the latent cache, or encoded on the fly the same way."""

    def __init__(self, run_parts: dict[str, Any], cache: Any) -> None:
        self.parts = run_parts
        self.cache = cache
        self.items = {item.index: item for item in (*run_parts["index"].train,
                                                      *run_parts["index"].validation)}
        # the items the cache holds: precompute_latents encodes the training split only
        self.cached = ({item.index for item in run_parts["index"].train} if cache is not None
                       else set())

    def get(self, index: int, variant: int) -> dict[str, Any]:
        if index in self.cached:
            return self.cache.get(index, variant)
        from hdr_mcp.training.datasets import load_sample
        from hdr_mcp.training.latents import encode_item

        p = self.parts
        sample = load_sample(self.items[index], p["index"].buckets[index], p["config"],
                             p["loaded"].family, variant)
        return encode_item(p["loaded"].pipe, p["family"], sample, p["config"])


# -- 2. set-up ---------------------------------------------------------------------------------


def _lora_targets(config: TrainConfig, entry) -> list[str]:
    targets = list(entry.lora_target_modules)
    if config.lora_streams == "both":
        targets += list(entry.extra.get("lora_target_modules_text", ()))
    return targets + [t for t in config.lora_targets if t not in targets]


def _add_lora(config: TrainConfig, loaded) -> None:
    import torch
    from diffusers.training_utils import cast_training_params
    from peft import LoraConfig

    lora = LoraConfig(r=config.rank, lora_alpha=config.lora_alpha or config.rank,
                      init_lora_weights="gaussian",
                      target_modules=_lora_targets(config, loaded.family))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)  # the same initial adapter in every process
        loaded.pipe.transformer.add_adapter(lora, adapter_name=ADAPTER)
    cast_training_params(loaded.pipe.transformer, torch.float32)
    if config.gradient_checkpointing:
        loaded.pipe.transformer.enable_gradient_checkpointing()


def _accelerator(ctx: Any):
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs

    device = getattr(ctx, "device", "cpu")
    if device.startswith("cuda:") and "LOCAL_RANK" not in os.environ:
        import torch

        torch.cuda.set_device(device)  # a worker's cuda:N; accelerate launch sets its own
    return Accelerator(cpu=not device.startswith("cuda"), mixed_precision="no",
                       kwargs_handlers=[DistributedDataParallelKwargs(
                           find_unused_parameters=True)])


def _optimizer(config: TrainConfig, transformer):
    import torch
    from diffusers.optimization import get_scheduler

    params = [p for p in transformer.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate,
                                  weight_decay=config.weight_decay)
    scheduler = get_scheduler(config.lr_scheduler, optimizer,
                              num_warmup_steps=config.warmup_steps,
                              num_training_steps=config.steps)
    return optimizer, scheduler


def _cache(config: TrainConfig, loaded) -> Any:
    if config.latents_dir is None:
        return None
    from hdr_mcp.training.latents import LatentCache, cache_record

    cache = LatentCache(config.latents_dir)
    cache.check(cache_record(config, loaded.family.name, loaded.revision))
    return cache


def setup(config: TrainConfig, ctx: Any, output_dir: Path, accelerator: Any) -> Run:
    """Steps 1 and 2: checks, model, LoRA, optimiser, data, resume (``output_dir`` checked by
    :func:`_output_dir`)."""
    from hdr_mcp.models.registry import family as lookup
    from hdr_mcp.training.datasets import scan
    from hdr_mcp.training.losses import FlowTimesteps
    from hdr_mcp.training.schedule import BatchSchedule
    from hdr_mcp.training.session import load_for_training

    if config.batch_size % accelerator.num_processes:
        raise InvalidArgument("batch_size", config.batch_size, f"must be a multiple of the "
                              f"{accelerator.num_processes} processes")
    preview = _preview_family(config)
    if preview is not None:
        scan(config, lookup(preview))  # dataset errors before any weight is read
    device = "cpu" if accelerator.device.type == "cpu" else str(accelerator.device)
    loaded, family = load_for_training(config, ctx, device=device)
    index = scan(config, loaded.family)
    cache = _cache(config, loaded)
    _add_lora(config, loaded)
    optimizer, lr_scheduler = _optimizer(config, loaded.pipe.transformer)
    model = accelerator.prepare(loaded.pipe.transformer)
    timesteps = FlowTimesteps(loaded.pipe.scheduler.config, weighting_scheme=config.
                              weighting_scheme, logit_mean=config.logit_mean,
                              logit_std=config.logit_std, mode_scale=config.mode_scale)
    schedule = BatchSchedule(index.train, index.buckets, config.batch_size, config.seed,
                             config.augment_variants)
    parts = {"index": index, "config": config, "loaded": loaded, "family": family}
    run = Run(config, ctx, loaded, family, index, accelerator, model, optimizer, lr_scheduler,
              timesteps, schedule, _Source(parts, cache), output_dir,
              fingerprint(config, loaded.family.name, loaded.revision))
    _maybe_resume(run)
    return run


def _preview_family(config: TrainConfig) -> str | None:
    from hdr_mcp.models.registry import names

    return config.model if config.model in names() else None


def _maybe_resume(run: Run) -> None:
    from hdr_mcp.training.checkpoints import find_checkpoint, latest_checkpoint

    config = run.config
    folder = None
    if config.resume is not None:
        folder = find_checkpoint(config.resume, run.output_dir)
    elif getattr(run.ctx, "attempt", 1) > 1:
        folder = latest_checkpoint(run.output_dir)  # a retried job continues where it stopped
    if folder is not None:
        load_checkpoint(run, folder)


def load_checkpoint(run: Run, folder: Path) -> None:
    import torch
    from peft.utils import set_peft_model_state_dict
    from safetensors.torch import load_file

    from hdr_mcp.training.checkpoints import check_fingerprint, read_state, restore_rng

    state = read_state(folder)
    check_fingerprint(state, run.fingerprint, folder)
    set_peft_model_state_dict(run.transformer, load_file(str(folder / "adapter.safetensors")),
                              adapter_name=ADAPTER)
    run.optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=False))
    run.lr_scheduler.load_state_dict(torch.load(folder / "scheduler.pt", weights_only=False))
    restore_rng(torch.load(folder / "rng.pt", weights_only=False))
    run.step = run.first_step = int(state["step"])
    run.losses = list(state.get("losses", []))
    run.ctx.log(f"resumed from {folder} at step {run.step}")


# -- 3. one step -------------------------------------------------------------------------------


def collate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack per-item tensors; sequences of different lengths (prompt embeddings and their
    masks) are zero-padded at the end."""
    import torch

    out = {}
    for key in rows[0]:
        tensors = [row[key] for row in rows]
        longest = max(t.shape[0] for t in tensors) if tensors[0].ndim else 0
        if tensors[0].ndim and any(t.shape[0] != longest for t in tensors):
            tensors = [torch.nn.functional.pad(t, (0, 0) * (t.ndim - 1) + (0, longest - t.shape[0]))
                       for t in tensors]
        out[key] = torch.stack(tensors)
    return out


def _share(run: Run, units: list) -> slice:
    per = len(units) // run.accelerator.num_processes
    start = run.accelerator.process_index * per
    return slice(start, start + per)


def batch_loss(run: Run, units: list[tuple[int, int]], seed: int):
    """Flow-matching loss of this process's share of ``units`` under ``seed``."""
    import torch

    from hdr_mcp.training.losses import flow_matching_loss, highlight_weights

    config, device = run.config, run.accelerator.device
    generator = torch.Generator().manual_seed(seed)
    timesteps, sigmas = run.timesteps.sample(len(units), generator)
    mine = _share(run, units) if len(units) == run.config.batch_size else slice(None)
    batch = collate([run.source.get(i, v) for i, v in units[mine]])
    x0 = batch.pop("x0").to(device)
    noise = torch.randn((len(units), *x0.shape[1:]), generator=generator)[mine].to(device)
    sigma = sigmas[mine].to(device).view((-1,) + (1,) * (x0.ndim - 1))
    x_t = (1.0 - sigma) * x0 + sigma * noise
    dtype = run.transformer.dtype
    conditioning = {k: (v.to(device, dtype) if v.is_floating_point() else v.to(device))
                    for k, v in batch.items() if k != "luminance"}
    prediction = run.family.predict(run.model, x_t.to(dtype), timesteps[mine].to(device),
                                    conditioning)
    weights = (highlight_weights(batch["luminance"], config.highlight_weight,
                                 config.highlight_threshold).to(device)
               if config.highlight_weight > 0 else None)
    return flow_matching_loss(prediction, noise - x0, sigmas=sigmas[mine],
                              weighting_scheme=config.weighting_scheme, pixel_weights=weights)


def train_step(run: Run) -> float:
    step = run.step + 1
    run.model.train()
    loss = batch_loss(run, run.schedule.batch(step), step_seed(run.config.seed, step))
    run.accelerator.backward(loss)
    params = [p for p in run.model.parameters() if p.requires_grad]
    run.accelerator.clip_grad_norm_(params, run.config.max_grad_norm)
    run.optimizer.step()
    run.lr_scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    run.step = step
    value = float(run.accelerator.reduce(loss.detach(), reduction="mean"))
    run.losses.append(value)
    return value


# -- 4. checkpoints, validation, logs ----------------------------------------------------------


def lora_info(run: Run):
    from hdr_mcp.models.lora import HdrLoraInfo

    config = run.config
    base = run.loaded.family.name
    return HdrLoraInfo(encoding=config.encoding, encoding_params=config.curve_params(),
                       base_model=base, trigger_words=tuple(config.trigger_words))


def adapter_state(run: Run) -> dict[str, Any]:
    from peft.utils import get_peft_model_state_dict

    state = get_peft_model_state_dict(run.transformer, adapter_name=ADAPTER)
    return {k: v.detach().float().cpu().contiguous() for k, v in state.items()}


def save_lora(run: Run, path: Path, state: dict[str, Any]) -> Path:
    """The adapter's ``state`` (:func:`adapter_state`) as an HDR LoRA file (diffusers layout +
    hdr_mcp metadata + sidecar)."""
    from hdr_mcp.models.lora import save_hdr_lora

    config = run.transformer.peft_config[ADAPTER].to_dict()
    return save_hdr_lora(state, config, path, lora_info(run),
                         pipeline_class=type(run.loaded.pipe))


def checkpoint(run: Run) -> Path | None:
    import torch
    from safetensors.torch import save_file

    from hdr_mcp.training.checkpoints import rng_states, save_checkpoint

    if not run.is_main:
        return None

    def write(folder: Path) -> None:
        state = adapter_state(run)
        save_file(state, str(folder / "adapter.safetensors"))
        save_lora(run, folder / "hdr_lora.safetensors", state)
        torch.save(run.optimizer.state_dict(), folder / "optimizer.pt")
        torch.save(run.lr_scheduler.state_dict(), folder / "scheduler.pt")
        torch.save(rng_states(), folder / "rng.pt")

    epoch, position = run.schedule.position(max(run.step, 1))
    state = {"fingerprint": run.fingerprint, "losses": run.losses,
             "data_order": {"epoch": epoch, "position": position,
                            "batches_per_epoch": run.schedule.batches_per_epoch,
                            "seed": run.config.seed}}
    return save_checkpoint(run.output_dir, run.step, write_files=write, state=state,
                           keep=run.config.keep_checkpoints)


def validation_loss(run: Run) -> float | None:
    import torch

    items = run.index.validation
    if not items:
        return None
    with torch.no_grad():
        losses = [float(batch_loss(run, [(item.index, 0)], step_seed(run.config.seed, k, stream=1)))
                  for k, item in enumerate(items)]
    return sum(losses) / len(losses)


def _validation_prompts(run: Run) -> list[str]:
    prompts = run.config.validation_prompts or [
        ", ".join([*run.config.trigger_words, item.caption]) for item in run.index.validation]
    return [p for p in prompts if p][:MAX_VALIDATION_RENDERS]


def render(run: Run, prompt: str, number: int) -> dict[str, Any]:
    """One validation image: EXR (ACEScg), preview PNG, peak and dynamic range."""
    import numpy as np
    import torch

    from hdr_mcp.color import decode, preview
    from hdr_mcp.io.exr import write_exr
    from hdr_mcp.io.image import write_png
    from hdr_mcp.metrics.range import dynamic_range_stops, peak
    from hdr_mcp.models import tiny
    from hdr_mcp.models.decode import decode_latents, vae_to_code

    entry, pipe, config = run.loaded.family, run.loaded.pipe, run.config
    side = max(entry.width.multiple, config.resolution // entry.width.multiple
               * entry.width.multiple)
    kwargs = tiny.call_kwargs(entry.name, run.loaded.path) if entry.tiny else {}
    run.model.eval()
    with torch.no_grad():
        latents = pipe(prompt=prompt, height=side, width=side, output_type="latent",
                       num_inference_steps=config.validation_steps or entry.default_steps,
                       generator=torch.Generator().manual_seed(config.seed + number),
                       return_dict=False, **kwargs)[0]
        values = decode_latents(pipe, latents, entry, height=side, width=side)
    code = vae_to_code(values[0].permute(1, 2, 0).cpu().numpy())
    linear = np.asarray(decode(code, config.encoding, **config.curve_params()), np.float32)
    linear = linear / np.float32(2.0 ** config.exposure)
    folder = run.output_dir / "validation"
    folder.mkdir(exist_ok=True)
    stem = f"step_{run.step:07d}_{number}"
    exr = write_exr(folder / f"{stem}.exr", linear, metadata={"hdr_mcp/prompt": prompt},
                    overflow="clamp", nonfinite="zero")
    png = write_png(folder / f"{stem}.png", preview(linear))
    return {"prompt": prompt, "exr": str(exr), "preview_png": str(png),
            "peak_nits": peak(linear)["max"], "dynamic_range_stops":
            dynamic_range_stops(linear)}


def validate(run: Run) -> dict[str, Any]:
    result: dict[str, Any] = {"step": run.step, "validation_loss": validation_loss(run)}
    if run.is_main and run.loaded.family.task == "text-to-image":
        result["renders"] = [render(run, p, k) for k, p in enumerate(_validation_prompts(run))]
    run.validation.append(result)
    _log_scalars(run, {"validation/loss": result["validation_loss"]})
    return result


def _tensorboard(run: Run) -> Any:
    if run.config.logging != "tensorboard" or not run.is_main:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        run.ctx.log("TensorBoard logs are off: the tensorboard package is not installed "
                    "(pip install tensorboard, or the diffusion extra)", "warning")
        return None
    return SummaryWriter(log_dir=str(run.output_dir / "logs"))


def _log_scalars(run: Run, values: dict[str, Any]) -> None:
    if run.writer is None:
        return
    for name, value in values.items():
        if value is not None:
            run.writer.add_scalar(name, value, run.step)


def _progress(run: Run, loss: float) -> None:
    done = run.step - run.first_step
    remaining = run.config.steps - run.step
    eta = (time.monotonic() - run.started) / max(done, 1) * remaining
    lr = run.lr_scheduler.get_last_lr()[0]
    message = f"step {run.step}/{run.config.steps} loss {loss:.4g} lr {lr:.3g} eta {eta:.0f}s"
    renders = run.validation[-1].get("renders") if run.validation else None
    if renders:
        message += f" preview {renders[-1]['preview_png']}"
    run.ctx.progress(run.step, run.config.steps, message)
    _log_scalars(run, {"train/loss": loss, "train/learning_rate": lr})


# -- 5. the loop and the final files -----------------------------------------------------------


def final_files(run: Run) -> dict[str, str]:
    """The LoRA in diffusers format and in the family's ComfyUI layout (same metadata)."""
    from safetensors.torch import save_file

    from hdr_mcp.io.atomic import atomic_path
    from hdr_mcp.models.lora import to_comfyui_state_dict

    folder = run.output_dir / "lora"
    folder.mkdir(exist_ok=True)
    state = adapter_state(run)
    diffusers_path = save_lora(run, folder / "hdr_lora.safetensors", state)
    alpha = run.config.lora_alpha or run.config.rank
    comfy = to_comfyui_state_dict(state, alpha, family=run.loaded.family.name)
    comfy_path = folder / "hdr_lora_comfyui.safetensors"
    with atomic_path(comfy_path) as temporary:
        save_file(comfy, str(temporary), metadata=lora_info(run).to_metadata())
    return {"lora": str(diffusers_path), "lora_comfyui": str(comfy_path),
            "lora_json": str(diffusers_path.with_suffix(".json"))}


def _stop(run: Run) -> None:
    from hdr_mcp.jobs.context import JobCancelled

    saved = checkpoint(run)
    raise JobCancelled(f"cancelled at step {run.step}; checkpoint {saved} (resume='latest')")


def train(config: TrainConfig, ctx: Any) -> dict[str, Any]:
    """Run ``config`` to ``config.steps``; returns paths, losses and validation results."""
    from hdr_mcp.outputs import created_folder

    accelerator = _accelerator(ctx)
    output_dir = _output_dir(config, ctx, claim=accelerator.is_main_process)
    accelerator.wait_for_everyone()
    with created_folder(output_dir):
        run = setup(config, ctx, output_dir, accelerator)
    run.writer = _tensorboard(run)
    try:
        _loop(run)
        last = checkpoint(run)
        files = final_files(run) if run.is_main else {}
    except Exception as error:
        from hdr_mcp.jobs.context import JobCancelled
        from hdr_mcp.training.checkpoints import latest_checkpoint

        if not isinstance(error, JobCancelled) and run.is_main and (
                latest_checkpoint(output_dir) is None):  # bad input found mid-run:
            _discard(run)  # nothing partial is left
        raise
    finally:
        if run.writer is not None:
            run.writer.close()
    return _result(run, last, files)


def _discard(run: Run) -> None:
    from hdr_mcp.outputs import remove_if_empty, remove_owned

    if run.writer is not None:
        run.writer.close()
        run.writer = None
    remove_owned(run.output_dir, OWNED)
    remove_if_empty(run.output_dir)


def _loop(run: Run) -> None:
    config, ctx = run.config, run.ctx
    while run.step < config.steps:
        if ctx.should_stop():
            _stop(run)
        loss = train_step(run)
        if run.step % config.validation_every == 0 or run.step == config.steps:
            validate(run)
        if run.step % config.checkpoint_every == 0 and run.step < config.steps:
            checkpoint(run)
        _progress(run, loss)


def _result(run: Run, last: Path | None, files: dict[str, str]) -> dict[str, Any]:
    losses = run.losses
    first, final = (losses[0], losses[-1]) if losses else (math.nan, math.nan)
    result = {"output_dir": str(run.output_dir), "steps": run.step, "model": run.loaded.family.name,
              "encoding": run.config.encoding, "rank": run.config.rank,
              "first_loss": first, "final_loss": final, "losses": losses,
              "checkpoint": str(last) if last else None, "validation": run.validation,
              "processes": run.accelerator.num_processes, **files}
    renders = [r for v in run.validation for r in v.get("renders", [])]
    if renders:
        result["preview_png"] = renders[-1]["preview_png"]
    if run.is_main:
        from hdr_mcp.io.atomic import atomic_path

        with atomic_path(run.output_dir / "result.json") as temporary:
            temporary.write_text(json.dumps(result, indent=2) + "\n")
    return result
