"""The engine a launch asks for and the one that runs: a FSDP or DeepSpeed config on a machine without CUDA is
refused with one line (accelerate would silently run plain data parallelism), unless the user passes the flag."""

import json
import sys

import pytest
from helpers import RM, run_recipe

from rlnoise.core.engine import FALLBACK_FLAG, check_engine, requested_engine, running_engine

FSDP_ENV = {"ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "2", "WORLD_SIZE": "2"}
ZERO_ENV = {"ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "3", "WORLD_SIZE": "2"}


@pytest.mark.parametrize(
    "env, cuda, requested, running",
    [
        ({}, False, "none", "none"),
        ({"WORLD_SIZE": "2"}, False, "DDP", "DDP"),
        (FSDP_ENV, True, "FSDP2", "FSDP2"),
        (FSDP_ENV, False, "FSDP2", "DDP"),
        (dict(FSDP_ENV, WORLD_SIZE="1"), False, "FSDP2", "none"),
        (ZERO_ENV, True, "ZeRO-3", "ZeRO-3"),
        (ZERO_ENV, False, "ZeRO-3", "DDP"),
        ({"ACCELERATE_USE_FSDP": "false", "WORLD_SIZE": "4"}, True, "DDP", "DDP"),
    ],
)
def test_requested_and_running_engines(env, cuda, requested, running):
    assert requested_engine(env) == requested and running_engine(env, cuda) == running


def test_a_dropped_engine_stops_unless_the_flag_is_given():
    assert check_engine({"WORLD_SIZE": "2"}, cuda=False) == "engine: DDP over 2 processes"
    assert check_engine({}, cuda=False) == "engine: none (1 process)"
    with pytest.raises(SystemExit) as stop:
        check_engine(ZERO_ENV, cuda=False)
    message = str(stop.value)
    assert "ZeRO-3" in message and "DDP over 2 processes" in message and FALLBACK_FLAG in message
    assert "\n" not in message
    line = check_engine(ZERO_ENV, cuda=False, allow_fallback=True)
    assert line.startswith("engine: DDP over 2 processes (warning:") and "ZeRO-3" in line
    assert check_engine(FSDP_ENV, cuda=True) == "engine: FSDP2 over 2 processes"


FSDP_LAUNCH = [sys.executable, "-m", "accelerate.commands.launch", "--config_file"]
FSDP_LAUNCH += ["recipes/accelerate_configs/fsdp.yaml", "--num_processes", "2", "--mixed_precision", "no"]


@pytest.mark.distributed
def test_fsdp_launch_on_a_cpu_machine_is_refused(tmp_path):
    """The shipped FSDP config under `accelerate launch` on this machine: stopped before any model loads, with
    one line (the launcher then adds its own report of the failed processes)."""
    refused = run_recipe(*RM, tmp_path / "refused", launcher=FSDP_LAUNCH)
    assert refused.returncode != 0
    (error,) = [x for x in refused.stderr.splitlines() if x.startswith("error: the accelerate config asks for")]
    assert "FSDP2" in error and "DDP over 2 processes" in error and not (tmp_path / "refused").exists()


@pytest.mark.slow
@pytest.mark.distributed
def test_fsdp_launch_with_the_flag_runs_as_ddp_and_says_so(tmp_path):
    ran = run_recipe(*RM, tmp_path / "ran", FALLBACK_FLAG, launcher=FSDP_LAUNCH)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "engine: DDP over 2 processes (warning:" in ran.stdout
    (results,) = (tmp_path / "ran").rglob("results.json")
    metadata = json.loads(results.read_text())["metadata"]
    assert metadata["engine"] == "DDP" and metadata["processes"] == 2


def test_ppo_under_fsdp_is_refused_before_any_work(tmp_path, monkeypatch):
    """PPO samples from the policy inside its value wrapper, which a layer-wise FSDP wrap leaves sharded
    (tests/distributed/fsdp2_check.py), so a FSDP launch of PPO stops at once, naming the configs that work."""
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    monkeypatch.setenv("FSDP_VERSION", "2")
    ppo = ("recipes/overoptimization/ppo.py", "recipes/overoptimization/configs/ppo_tiny.yaml")
    run = run_recipe(*ppo, tmp_path, FALLBACK_FLAG)
    assert run.returncode != 0 and "error: PPO does not run under FSDP yet" in run.stderr
    assert "zero2.yaml" in run.stderr and not (tmp_path / "overoptimization").exists()
