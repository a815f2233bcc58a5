"""Which distributed engine a launch asks for, and which one actually runs.

``accelerate launch --config_file fsdp.yaml`` (or a DeepSpeed ZeRO config) on a machine without CUDA starts its
processes, but accelerate then runs them as ``MULTI_CPU``: plain data parallelism over gloo. Its state hands FSDP
and DeepSpeed only to accelerator kinds (accelerate 1.x, ``AcceleratorState.__init__``), so nothing is sharded and
nothing says so. rlnoise names the engine that runs when a recipe starts, records it in results.json, and refuses a
launch whose engine the machine would drop, unless ``--allow_engine_fallback`` says the user means it.
"""

from __future__ import annotations

import os

FALLBACK_FLAG = "--allow_engine_fallback"
SHARDED = ("FSDP", "ZeRO")


def _flag(env: dict, name: str) -> bool:
    return env.get(name, "false").lower() in ("1", "true")


def processes(env: dict) -> int:
    """How many processes the launcher started (``WORLD_SIZE``; 1 outside a launcher)."""
    return int(env.get("WORLD_SIZE", "1") or 1)


def requested_engine(env: dict) -> str:
    """The engine the launch's accelerate config asks for: FSDP, ZeRO-<stage>, DDP (several processes) or none."""
    if _flag(env, "ACCELERATE_USE_FSDP"):
        return f"FSDP{env.get('FSDP_VERSION', '')}"
    if _flag(env, "ACCELERATE_USE_DEEPSPEED"):
        return f"ZeRO-{env.get('ACCELERATE_DEEPSPEED_ZERO_STAGE', '?')}"
    return "DDP" if processes(env) > 1 else "none"


def running_engine(env: dict, cuda: bool) -> str:
    """The engine that runs: the requested one, except that without CUDA accelerate drops FSDP and ZeRO to DDP
    over gloo (several processes) or to none (one process)."""
    requested = requested_engine(env)
    if requested.startswith(SHARDED) and not cuda:
        return "DDP" if processes(env) > 1 else "none"
    return requested


def describe(engine: str, env: dict) -> str:
    n = processes(env)
    return f"{engine} over {n} processes" if engine != "none" else f"none ({n} process{'es' if n > 1 else ''})"


def check_engine(env: dict | None = None, cuda: bool | None = None, allow_fallback: bool = False) -> str:
    """The line a recipe prints on start (``engine: ...``); a launch whose requested engine would be dropped stops
    here with one line naming both engines and the ways out, unless ``allow_fallback``."""
    env = dict(os.environ) if env is None else env
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    requested, running = requested_engine(env), running_engine(env, cuda)
    if requested == running:
        return f"engine: {describe(running, env)}"
    message = (
        f"the accelerate config asks for {requested}, but this machine has no CUDA device, where accelerate runs "
        f"{describe(running, env)} and shards nothing"
    )
    if not allow_fallback:
        error = (
            f"error: {message}. Launch with recipes/accelerate_configs/cpu.yaml (or ddp.yaml), or pass "
            f"{FALLBACK_FLAG} to run it anyway."
        )
        raise SystemExit(error if env.get("RANK", "0") == "0" else 1)  # said once, by the first process
    return f"engine: {describe(running, env)} (warning: {message}; {FALLBACK_FLAG} given)"
