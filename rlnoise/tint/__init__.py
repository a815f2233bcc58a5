"""Noisy algorithmic chain of thought (Havrilla & Iyer 2024): traced integers, tasks, static and dynamic noise,
datasets, fine-tuning and few-shot evaluation."""

from rlnoise.core.lazy import lazy_exports

# name -> module; imported on first use, so the study's config module loads without torch
_EXPORTS = {
    "make_dataset": "rlnoise.tint.dataset",
    "StaticNoise": "rlnoise.tint.noise",
    "add_static_noise": "rlnoise.tint.noise",
    "TASKS": "rlnoise.tint.tasks",
    "Trace": "rlnoise.tint.tasks",
    "run_task": "rlnoise.tint.tasks",
    "trace_function": "rlnoise.tint.tasks",
    "TInt": "rlnoise.tint.tint",
    "gcd": "rlnoise.tint.tint",
    "median": "rlnoise.tint.tint",
    "sort": "rlnoise.tint.tint",
    "sum_": "rlnoise.tint.tint",
    "Tracer": "rlnoise.tint.trace",
    "Visibility": "rlnoise.tint.trace",
    "tracing": "rlnoise.tint.trace",
}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
