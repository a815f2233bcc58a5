"""Recipe command lines: ``--config preset.yaml`` plus CLI overrides parsed into config dataclasses (trl.TrlParser,
as trl's example scripts do), a help page that names the presets, and the flags every recipe shares.

Recipes call :func:`parse_config` before they import the study's run function, and every config dataclass lives in
a module without torch, so ``--help`` and a bad flag answer in about a second.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import textwrap
from pathlib import Path

import yaml


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the recipe docstring's layout and shows every default (the preset's, when ``--config`` is given)."""


def preset_summary(path: Path) -> str:
    """The first sentence of the comment block at the top of a preset YAML."""
    comment = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        comment.append(line.lstrip("#").strip())
    text = " ".join(comment)
    return re.split(r"(?<!\bal)\.\s+(?=[A-Z])", text)[0].rstrip(".")  # a sentence ends at '. X', not 'et al. ('


def presets_epilog(presets: list[Path]) -> str:
    lines = ["presets (--config PATH; other flags override the preset's values):"]
    for path in presets:
        shown = os.path.relpath(path) if path.is_absolute() else str(path)
        lines.append(f"  {shown}")
        summary = preset_summary(path)
        if summary:
            lines += textwrap.wrap(summary, width=100, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines)


def _check_config_path(argv: list[str]) -> None:
    if "--config" not in argv:
        return
    i = argv.index("--config")
    if i + 1 >= len(argv):
        raise SystemExit("error: --config needs a path to a YAML preset")
    path = Path(argv[i + 1])
    if not path.is_file():
        raise SystemExit(f"error: --config {path}: no such file")
    try:
        loaded = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise SystemExit(f"error: --config {path} is not valid YAML: {err}") from None
    if not isinstance(loaded, dict):
        raise SystemExit(
            f"error: --config {path} must hold a YAML mapping of field: value, got {type(loaded).__name__}"
        )


def parse_config(
    *dataclass_types, doc: str | None = None, presets: list[Path] | None = None, argv=None, check_launch=True
):
    """Parse ``--config file.yaml`` plus CLI overrides into the given dataclasses.

    Args:
        dataclass_types: the recipe's config dataclasses (fields of all of them share one flat namespace).
        doc: the recipe's docstring, shown as the help page's description.
        presets: preset YAML files, listed in the help page.
        argv: arguments (default ``sys.argv[1:]``).
        check_launch: name the distributed engine that will run, and stop where the launch's engine would be
            dropped (:func:`rlnoise.core.engine.check_engine`); off for tools that only read a preset.

    Returns:
        One instance per dataclass type (a single instance when one type is given). ``--verbose`` is applied
        (:func:`rlnoise.core.console.set_verbose`) and not returned: it changes what is printed, not the result.
    """
    from trl import TrlParser

    from rlnoise.core.console import set_verbose
    from rlnoise.core.engine import FALLBACK_FLAG, check_engine
    from rlnoise.core.rehearsal import FLAG as REHEARSAL_FLAG
    from rlnoise.core.rehearsal import record, rehearse

    argv = list(sys.argv[1:] if argv is None else argv)
    for dtype in dataclass_types:  # HfArgumentParser's hook for one help section per dataclass
        if "_argument_group_name" not in vars(dtype):
            dtype._argument_group_name = (
                f"{dtype.__name__}: {(dtype.__doc__ or '').strip().splitlines()[0].rstrip('.')}"
            )
    parser = TrlParser(
        dataclass_types,
        usage="%(prog)s [--config PRESET.yaml] [--FIELD VALUE ...] [--verbose] [--rehearse]",
        description=doc,
        epilog=presets_epilog(presets) if presets else None,
        formatter_class=_HelpFormatter,
    )
    for action in parser._actions:  # HfArgumentParser passes help text to argparse, which reads '%' as a format
        if action.help and action.help is not argparse.SUPPRESS:
            action.help = action.help.replace("%", "%%")
    # Shown in the help page only: TrlParser takes --config out of argv before argparse sees it.
    parser.add_argument("--config", metavar="PATH", help="YAML preset: its values become the defaults")
    parser.add_argument("--verbose", action="store_true", help="Show library warnings and every trainer log line.")
    parser.add_argument(
        FALLBACK_FLAG,
        action="store_true",
        help="Run even where the launch's FSDP or DeepSpeed config would fall back to plain data parallelism "
        "(no CUDA): by default such a launch stops.",
    )
    parser.add_argument(
        REHEARSAL_FLAG,
        action="store_true",
        help="Rehearse the preset: tiny models of the same families, sizes cut to minutes on a CPU, every other "
        "setting kept; prints what it changed and writes to <run_name>_rehearsal.",
    )
    _check_config_path(argv)
    verbose, allow_fallback, rehearsal = (flag in argv for flag in ("--verbose", FALLBACK_FLAG, REHEARSAL_FLAG))
    argv = [a for a in argv if a not in ("--verbose", FALLBACK_FLAG, REHEARSAL_FLAG)]
    try:
        parsed = parser.parse_args_and_config(argv)
    except ValueError as err:  # a preset key no dataclass has, or a value a config's checks refuse
        raise SystemExit(f"error: {err}") from None
    parsed = [p for p in parsed if not isinstance(p, argparse.Namespace)]  # leftovers: --config's default
    set_verbose(verbose)
    changes = []
    if rehearsal:
        try:
            parsed, changes = rehearse(parsed)
        except ValueError as err:
            raise SystemExit(f"error: {err}") from None
        print("rehearsal (tiny models, cut sizes; every other setting kept):\n  " + "\n  ".join(changes), flush=True)
    record(changes)
    if check_launch:
        from rlnoise.core.precision import slow_bfloat16_warning

        engine = check_engine(allow_fallback=allow_fallback)  # before any model loads
        warning = slow_bfloat16_warning(parsed)
        if os.environ.get("RANK", "0") == "0":
            print("\n".join([engine] + ([warning] if warning else [])), flush=True)
    return parsed[0] if len(dataclass_types) == 1 else tuple(parsed)


def run_main(main) -> None:
    """Run a recipe's ``main``: a rerun refused because its run folder holds another config's results ends with
    that message (which names the differing fields and the way out), not a traceback."""
    try:
        main()
    except ValueError as err:
        from rlnoise.core.runs import ConfigMismatch  # here, not at the top: --help must not load torch

        if isinstance(err, ConfigMismatch):
            raise SystemExit(f"error: {err}") from None
        raise
