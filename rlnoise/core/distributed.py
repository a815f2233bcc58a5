"""Process state for `accelerate launch`, and work sharded across processes.

On a machine without CUDA, ``accelerate launch --multi_gpu --num_processes 2`` starts two processes but (accelerate
1.x) leaves each with ``DistributedType.NO`` unless the state is created with ``cpu=True``; :func:`process_state`
does that, so the processes join one gloo group. Library code asks :func:`world` instead of holding a state, so it
runs unchanged in one process, under ``accelerate launch`` and under ``torchrun``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.distributed as dist
from accelerate import PartialState

from rlnoise.core.console import progress


def process_state() -> PartialState:
    """accelerate's process state; joins the launched processes over gloo when there is no GPU, and on the CPU
    gives each process its share of the cores (:func:`cpu_threads`)."""
    if not torch.cuda.is_available():
        _take_cpu_share()
    return PartialState(cpu=not torch.cuda.is_available())


@functools.cache
def _take_cpu_share() -> None:
    """Set this process's torch threads once (later calls of process_state leave them alone)."""
    torch.set_num_threads(cpu_threads(dict(os.environ), physical_cores()))


def cpu_threads(env: dict[str, str], cores: int) -> int:
    """Torch threads per process on the CPU.

    ``RLNOISE_NUM_THREADS`` if set; else ``OMP_NUM_THREADS`` if set outside ``accelerate launch``; else the physical
    cores divided by the processes on this machine (at least 1). ``accelerate launch`` sets ``OMP_NUM_THREADS=1``
    for a one-process CPU run without ``--cpu``, which would leave all but one core idle, so under it rlnoise counts
    cores itself: two processes on two cores get one thread each (more threads than cores slows both 2-5x).
    """
    for name in ("RLNOISE_NUM_THREADS", "OMP_NUM_THREADS"):
        value = env.get(name)
        if value is None or (name == "OMP_NUM_THREADS" and "ACCELERATE_DYNAMO_BACKEND" in env):
            continue
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{name} must be a positive integer (threads per process), got {value!r}")
        return int(value)
    return max(1, cores // max(1, int(env.get("LOCAL_WORLD_SIZE", "1"))))


def physical_cores() -> int:
    import psutil  # accelerate's dependency

    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def device() -> torch.device:
    """This process's device: its GPU under accelerate launch on a GPU machine, else the CPU."""
    return process_state().device


def world() -> tuple[int, int]:
    """(rank, number of processes) of the current process group; (0, 1) outside one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def barrier() -> None:
    """Wait for every process (a no-op in a single process)."""
    if world()[1] > 1:
        dist.barrier()


def shard_bounds(n_items: int, rank: int, size: int) -> tuple[int, int]:
    """Contiguous block ``[start, stop)`` of ``n_items`` for ``rank`` of ``size``; the first ranks get one extra."""
    base, extra = divmod(n_items, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def sharded_map(fn: Callable[[Any], Any], items: Sequence, desc: str | None = None) -> list:
    """``[fn(x) for x in items]`` with items split across processes and the results gathered, in order, on all.

    Each item must be a self-contained unit of work (its own seed, its own batches), so the gathered result is the
    same whatever the number of processes.
    """
    rank, size = world()
    start, stop = shard_bounds(len(items), rank, size)
    local = [fn(items[i]) for i in progress(range(start, stop), desc, disable=rank != 0)]
    if size == 1:
        return local
    gathered: list[list] = [None] * size  # type: ignore[list-item]
    dist.all_gather_object(gathered, local)
    return [x for part in gathered for x in part]
