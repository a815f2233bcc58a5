"""TInt datasets: sampled problems, their traces, and static / dynamic noise on a contaminated share of samples."""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path

from datasets import Dataset, load_from_disk

from rlnoise.core.config import check_choice, check_positive, check_probability
from rlnoise.core.stages import cached_stage
from rlnoise.tint.damage import Damage, damage_rates, trace_damage
from rlnoise.tint.noise import StaticNoise, add_static_noise
from rlnoise.tint.tasks import check_digits, format_answer, run_task, sample_args, task_spec
from rlnoise.tint.trace import SEMANTICS

DAMAGE_COLUMNS = ("digits", "changed_digits", "lines", "changed_lines")
COLUMNS = ("prompt", "completion", "answer", "true_answer", "noised", "noise", "changed", *DAMAGE_COLUMNS)


def train_damage(data) -> dict[str, float]:
    """The damage rates of a dataset (``rlnoise.tint.damage.damage_rates``) from its per-row columns."""
    columns = {name: data[name] for name in (*DAMAGE_COLUMNS, "answer", "true_answer")}
    damages = [
        Damage(d, cd, n, cn, a != t)
        for d, cd, n, cn, a, t in zip(*(columns[k] for k in (*DAMAGE_COLUMNS, "answer", "true_answer")))
    ]
    return damage_rates(damages)


def _static(static) -> StaticNoise | None:
    if static is None or isinstance(static, StaticNoise):
        return static
    if isinstance(static, dict):
        return StaticNoise(**static)
    raise ValueError(f"static must be a StaticNoise, a dict of its fields or None, got {static!r}")


def noise_label(static: StaticNoise | None, dynamic: float, semantics: str = "clean") -> str:
    parts = []
    if static is not None and (static.digit_p or static.line_p):
        parts.append(
            f"static(digit_p={static.digit_p:g},line_p={static.line_p:g}"
            + (",touch_answer" if static.touch_answer else "")
            + (",reference" if static.semantics == "reference" else "")
            + ")"
        )
    if dynamic:
        parts.append(f"dynamic(p={dynamic:g}" + (",reference" if semantics == "reference" else "") + ")")
    return "+".join(parts) or "none"


def generate_rows(
    task: str,
    n: int,
    *,
    min_digits: int,
    max_digits: int,
    static=None,
    dynamic: float = 0.0,
    contamination: float = 0.0,
    seed: int = 0,
    exclude_prompts: Iterable[str] = (),
    semantics: str = "clean",
) -> dict[str, list]:
    """The columns of ``make_dataset`` as lists, uncached (see there for the arguments)."""
    task_spec(task)
    check_choice("noise_semantics", semantics, SEMANTICS)
    check_positive("n", n, integer=True)
    check_digits(min_digits, max_digits)
    static = _static(static)
    check_probability("dynamic", dynamic)
    check_probability("contamination", contamination)
    exclude = set(exclude_prompts)
    label = noise_label(static, dynamic, semantics)
    rng = random.Random(seed)
    rows = {name: [] for name in COLUMNS}
    attempts = 0
    while len(rows["prompt"]) < n:
        attempts += 1
        if attempts > 100 * n + 1000:
            raise ValueError(
                f"could not draw {n} {task!r} problems with {min_digits}-{max_digits} digits outside "
                f"the {len(exclude)} excluded prompts: the problem space is too small"
            )
        args = sample_args(task, rng, min_digits, max_digits)
        noised = rng.random() < contamination and label != "none"
        noise_seed = rng.getrandbits(32)
        clean = run_task(task, args)
        if clean.prompt in exclude:
            continue
        trace = clean
        if noised and dynamic:
            trace = run_task(task, args, dynamic_noise=dynamic, seed=noise_seed, semantics=semantics)
            if trace.args != clean.args:  # reference noise corrupted the operands: the prompt shows that problem
                clean = run_task(task, trace.args)
                if clean.prompt in exclude:
                    continue
        completion = trace.completion
        if noised and static is not None:
            completion = add_static_noise(
                completion,
                digit_p=static.digit_p,
                line_p=static.line_p,
                seed=noise_seed + 1,
                touch_answer=static.touch_answer,
                semantics=static.semantics,
            )
        rows["prompt"].append(clean.prompt)
        rows["completion"].append(completion)
        rows["answer"].append(completion.rsplit("\n", 1)[-1])
        rows["true_answer"].append(format_answer(clean.true_answer))
        rows["noised"].append(noised)
        rows["noise"].append(label if noised else "none")
        rows["changed"].append(completion != clean.completion)
        damage = trace_damage(clean.completion, completion) if completion != clean.completion else None
        rows["digits"].append(damage.digits if damage else sum(c.isdigit() for c in completion))
        rows["changed_digits"].append(damage.changed_digits if damage else 0)
        rows["lines"].append(damage.lines if damage else completion.count("\n") + 1)
        rows["changed_lines"].append(damage.changed_lines if damage else 0)
    return rows


def make_dataset(
    task: str,
    n: int,
    *,
    min_digits: int,
    max_digits: int,
    static=None,
    dynamic: float = 0.0,
    contamination: float = 0.0,
    seed: int = 0,
    exclude_prompts: Iterable[str] = (),
    semantics: str = "clean",
) -> Dataset:
    """A TInt training or test set, deterministic by seed and cached by its arguments.

    Args:
        task: a name in ``rlnoise.tint.TASKS``.
        n: number of samples.
        min_digits, max_digits: digits of each sampled number.
        static: ``StaticNoise`` (or a dict of its fields) applied to noised samples' finished traces.
        dynamic: per-digit corruption probability during the computation, for noised samples.
        contamination: probability that a sample is noised, decided per sample. Test sets use 0.
        seed: sampling and noise seed.
        semantics: dynamic noise's semantics, ``clean`` or ``reference`` (``rlnoise.tint.trace``); static noise
            carries its own (``StaticNoise.semantics``).
        exclude_prompts: prompts never to include (e.g. the test set's).

    Returns:
        A ``datasets.Dataset`` with columns prompt, completion, answer (the completion's last line), true_answer,
        noised (chosen for noise), noise (how), changed (the completion differs from the clean trace), and the
        damage against the clean trace (digits, changed_digits, lines, changed_lines; ``train_damage`` sums them).
        Answers are strings in trace format, since products of long numbers overflow int64.
    """
    settings = dict(
        min_digits=min_digits,
        max_digits=max_digits,
        static=_static(static),
        dynamic=dynamic,
        contamination=contamination,
        seed=seed,
        exclude_prompts=sorted(set(exclude_prompts)),
        semantics=semantics,
    )
    config = {"task": task, "n": n, **settings, "version": 2}  # 2: damage columns

    def build(folder: Path) -> None:
        Dataset.from_dict(generate_rows(task, n, **settings)).save_to_disk(str(folder / "data"))

    return load_from_disk(str(cached_stage("tint_dataset", config, build) / "data"))
