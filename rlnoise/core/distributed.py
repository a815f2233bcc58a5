"""Process state for `accelerate launch`, and work sharded across processes.

On a machine without CUDA, ``accelerate launch --multi_gpu --num_processes 2`` starts two processes but (accelerate
1.x) leaves each with ``DistributedType.NO`` unless the state is created with ``cpu=True``; :func:`process_state`
does that, so the processes join one gloo group. Library code asks :func:`world` instead of holding a state, so it
runs unchanged in one process, under ``accelerate launch`` and under ``torchrun``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.distributed as dist
from accelerate import PartialState

from rlnoise.core.console import progress


def process_state() -> PartialState:
    """accelerate's process state; joins the launched processes over gloo when there is no GPU."""
    return PartialState(cpu=not torch.cuda.is_available())


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
