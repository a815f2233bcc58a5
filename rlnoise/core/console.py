"""What a run prints: numbered steps with timings, progress that suits where output goes, and quiet libraries.

Library warnings known to be harmless here, the libraries' own progress bars and trainers' per-step log dicts are
hidden unless ``--verbose`` (:func:`set_verbose`); errors and unexpected warnings always show. Progress is a
``tqdm`` bar on a terminal and a few plain lines (no escape codes) when output goes to a file or a CI log.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

_verbose = False

# Warnings that every run on this stack triggers and that say nothing about the run (shown with --verbose).
KNOWN_HARMLESS = (
    (FutureWarning, r".*`\w*gradient_checkpointing\w*` is deprecated"),  # transformers 5 renames, trl still calls
    (UserWarning, r".*'pin_memory' argument is set as true but no accelerator"),
    (UserWarning, r".*To copy construct from a tensor"),
    (UserWarning, r".*`use_cache=True` is incompatible with gradient checkpointing"),
)


def set_verbose(on: bool) -> None:
    """``--verbose``: show every library warning, progress bar and trainer log line. Otherwise quiet them.

    Environment variables are set only where the user has not set them, and take effect for libraries imported
    after this call (recipes parse their command line before importing torch or transformers).
    """
    global _verbose
    _verbose = bool(on)
    if _verbose:
        return
    for name, value in (
        ("TRANSFORMERS_VERBOSITY", "error"),
        ("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1"),
        ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),  # transformers' "Loading weights" / "Writing model shards" bars
        ("HF_DATASETS_DISABLE_PROGRESS_BARS", "1"),  # datasets' map/filter bars inside trl's dataset preparation
    ):
        os.environ.setdefault(name, value)
    if not is_terminal():  # other libraries' bars become \r-separated junk in a log file; ours print plain lines
        os.environ.setdefault("TQDM_DISABLE", "1")
    for category, message in KNOWN_HARMLESS:
        warnings.filterwarnings("ignore", message=message, category=category)


def verbose() -> bool:
    return _verbose


def is_terminal() -> bool:
    return sys.stderr.isatty()


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 12 s``, ``1 h 05 min``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def say(text: str) -> None:
    """One line on stdout, flushed (so it interleaves correctly with progress on stderr), main process only."""
    if os.environ.get("RANK", "0") == "0":
        print(text, flush=True)


@contextmanager
def step(index: int, total: int, text: str) -> Iterator[None]:
    """``[index/total] text`` now, and ``done in <time>`` when the block ends."""
    start = time.perf_counter()
    say(f"[{index}/{total}] {text}")
    yield
    say(f"      done in {duration(time.perf_counter() - start)}")


def progress(items: Iterable, desc: str | None, total: int | None = None, disable: bool = False) -> Iterable:
    """``items`` with progress: a tqdm bar on a terminal; without one, a plain line at about every quarter.

    ``desc=None`` or ``disable`` shows nothing.
    """
    if desc is None or disable:
        return items
    if total is None and hasattr(items, "__len__"):
        total = len(items)
    if is_terminal():
        from tqdm.auto import tqdm

        return tqdm(items, desc=desc, total=total, leave=False, disable=False)
    return _plain_progress(items, desc, total)


def _plain_progress(items: Iterable, desc: str, total: int | None) -> Iterator:
    start = time.perf_counter()
    marks = {max(1, round(total * q)) for q in (0.25, 0.5, 0.75)} if total and total >= 8 else set()
    done = 0
    for item in items:
        yield item
        done += 1
        if done in marks:
            print(
                f"      {desc}: {done}/{total} ({duration(time.perf_counter() - start)})", file=sys.stderr, flush=True
            )


def summarise_trainer(trainer, label: str) -> None:
    """Replace a ``transformers.Trainer``'s progress bar and per-step log dicts by one line when training ends
    (``--verbose`` keeps the trainer's own output)."""
    if _verbose:
        return
    from transformers import TrainerCallback
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    class Summary(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_train_end(self, args, state, control, **kwargs):
            final = [row["train_loss"] for row in state.log_history if "train_loss" in row]
            loss = f", mean training loss {float(final[-1]):.3f}" if final else ""
            if state.is_world_process_zero:
                say(f"      {label}: {state.global_step} steps in {duration(time.perf_counter() - self.start)}{loss}")

    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(Summary())
