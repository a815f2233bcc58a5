"""Noisy algorithmic chain of thought (Havrilla & Iyer 2024): traced integers, tasks, static and dynamic noise,
datasets, fine-tuning and few-shot evaluation."""

from rlnoise.tint.dataset import make_dataset
from rlnoise.tint.noise import StaticNoise, add_static_noise
from rlnoise.tint.tasks import TASKS, Trace, run_task, trace_function
from rlnoise.tint.tint import TInt, gcd, median, sort, sum_
from rlnoise.tint.trace import Tracer, Visibility, tracing

__all__ = [
    "TASKS",
    "StaticNoise",
    "TInt",
    "Trace",
    "Tracer",
    "Visibility",
    "add_static_noise",
    "gcd",
    "make_dataset",
    "median",
    "run_task",
    "sort",
    "sum_",
    "trace_function",
    "tracing",
]
