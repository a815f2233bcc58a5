"""Live tracking: one run-level setting, ``report_to``, reaches every trainer of a run.

A run (:class:`rlnoise.core.runs.Run`) starts tracking for its folder; each trainer then joins it: transformers
and trl trainers through :func:`attach_tracking`, rlnoise's PPO loop through an accelerate ``Accelerator`` built
with :func:`accelerate_tracking`. TensorBoard writes event files under
``<run folder>/tracking/<trainer>/`` (watch them with ``tensorboard --logdir runs/<study>/<run>/tracking``); wandb
and trackio log to project ``rlnoise`` with runs named ``<run_name>/<trainer>``.

Tracking is placement, not science: it is not part of any run's or stage's key, so turning it on for a resumed
run is allowed, and a cached stage (nothing trained) logs nothing.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

from rlnoise.core.config import REPORTERS, check_choice

PROJECT = "rlnoise"

_current: dict = dict(report_to="none", folder=None, run_name="")


def check_report_to(value: str) -> str:
    """``value`` if it is a known tracker whose package is installed, else a ``ValueError`` saying what to do."""
    check_choice("report_to", value, REPORTERS)
    if value != "none" and importlib.util.find_spec(value) is None:
        raise ValueError(
            f"report_to: {value!r} needs the {value} package, which is not installed (pip install {value})"
        )
    return value


def start_tracking(report_to: str, folder: Path, run_name: str) -> None:
    """Send this process's trainers to ``report_to`` for the run in ``folder`` (called by the run itself)."""
    _current.update(report_to=check_report_to(report_to), folder=Path(folder), run_name=run_name)


def stop_tracking() -> None:
    """The run is over: trainers made after it log nowhere."""
    _current.update(report_to="none", folder=None, run_name="")


def tracker() -> str:
    """The current run's tracker (``none`` when no run started one)."""
    return _current["report_to"]


def event_scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """The scalars of the TensorBoard event files in ``folder``: tag -> [(step, value), ...] (reads what a run
    logged, e.g. to check it)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def tracking_dir(name: str) -> Path:
    """A new folder for trainer ``name``'s TensorBoard event files: ``<run folder>/tracking/<name>`` (``-2``,
    ``-3``, ... when a trainer of that name already logged in this run, e.g. a resumed one)."""
    safe = re.sub(r"[^A-Za-z0-9._=-]+", "-", name).strip("-") or "trainer"
    root = _current["folder"] / "tracking"
    folder, n = root / safe, 1
    while folder.exists():
        n += 1
        folder = root / f"{safe}-{n}"
    return folder


def _active() -> bool:
    from rlnoise.core.distributed import world

    return tracker() != "none" and _current["folder"] is not None and world()[0] == 0  # the main process logs


def attach_tracking(trainer, name: str):
    """Send a transformers/trl ``trainer``'s logs to the run's tracker as ``name`` (nothing when tracking is
    off) and return it. TensorBoard gets an explicit writer: transformers 5 otherwise picks its folder from an
    environment variable or the trainer's scratch ``output_dir``, which a cached stage deletes."""
    if not _active():
        return trainer
    from transformers.integrations import TensorBoardCallback, TrackioCallback, WandbCallback

    if tracker() == "tensorboard":
        from torch.utils.tensorboard import SummaryWriter

        trainer.add_callback(TensorBoardCallback(SummaryWriter(str(tracking_dir(name)))))
        return trainer
    os.environ.setdefault("WANDB_PROJECT", PROJECT)
    trainer.args.run_name, trainer.args.project = f"{_current['run_name']}/{name}", PROJECT
    trainer.add_callback({"wandb": WandbCallback, "trackio": TrackioCallback}[tracker()]())
    return trainer


def accelerate_tracking() -> dict:
    """``Accelerator`` arguments for the run's tracker (``{}`` when off); then :func:`start_accelerate_tracker`."""
    if not _active():
        return {}
    return dict(log_with=tracker(), project_dir=str(_current["folder"] / "tracking"))


def start_accelerate_tracker(accelerator, name: str) -> None:
    """Start ``accelerator``'s tracker as ``name`` (TensorBoard: a new ``<run folder>/tracking/<name>``)."""
    if not accelerator.log_with:
        return
    if tracker() == "tensorboard":
        accelerator.init_trackers(tracking_dir(name).name)
    else:
        accelerator.init_trackers(PROJECT, init_kwargs={tracker(): {"name": f"{_current['run_name']}/{name}"}})


def stop_accelerate_tracker(accelerator) -> None:
    """Finish ``accelerator``'s trackers (not ``end_training``: it also destroys the process group, which the
    study's next run still needs)."""
    for started in accelerator.trackers:
        started.finish()
    accelerator.trackers = []
