"""What a user types and reads: every recipe's --help (fast, torch-free, listing presets, choices and spec syntax),
clear command-line errors, the plotting command, plain progress lines, trainer summaries and samples.md."""

import json
import subprocess
import sys

import pytest
from helpers import ROOT

from rlnoise.core.cli import parse_config, preset_summary
from rlnoise.core.console import _plain_progress, duration
from rlnoise.core.samples import samples_markdown

RECIPES = {
    "recipes/overoptimization/bon.py": ["bon_quick.yaml", "bon_tiny.yaml", "{mean,wco,uwo,lcb,single}"],
    "recipes/overoptimization/train_rms.py": ["rm_quick.yaml", "rm_tiny.yaml", "coste:fraction=0.5"],
    "recipes/overoptimization/ppo.py": ["ppo_quick.yaml", "ppo_tiny.yaml", "{mean,wco,uwo,lcb,single}"],
    "recipes/overoptimization/grpo.py": ["grpo_quick.yaml", "Policy updates per run (PPO steps, or GRPO/RLOO"],
    "recipes/overoptimization/dpo.py": ["dpo_quick.yaml", "dpo_paper.yaml", "measured*F"],
    "recipes/tint/sweep.py": ["quick.yaml", "paper.yaml", "{static,dynamic}"],
    "recipes/elicitation/sweep.py": ["quick.yaml", "{lora,full,head}", "20% of steps"],
    "recipes/nmtune/tune.py": ["tiny.yaml", "{linear,mlp,residual_mlp,nmtune,nmtune_fgs}"],
}

# Run the script's main() as `python script ...` would, then report whether torch was imported on the way.
_PROBE = """
import runpy, sys
sys.argv = [sys.argv[1], *sys.argv[2:]]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as exit:
    code = exit.code
print("TORCH_LOADED" if "torch" in sys.modules else "TORCH_NOT_LOADED", code)
"""


def _probe(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", _PROBE, script, *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("script", sorted(RECIPES))
def test_recipe_help_works_without_loading_torch(script):
    proc = _probe(script, "--help")
    assert proc.stdout.strip().endswith("TORCH_NOT_LOADED 0"), proc.stdout[-2000:] + proc.stderr[-3000:]
    text = proc.stdout
    assert "--config PATH" in text and "--verbose" in text and "presets (--config PATH" in text
    for expected in RECIPES[script]:
        assert expected in text, f"{script} --help lacks {expected!r}"


def test_help_with_a_preset_shows_the_preset_values_as_defaults():
    proc = _probe(
        "recipes/overoptimization/bon.py", "--config", "recipes/overoptimization/configs/bon_tiny.yaml", "-h"
    )
    text = " ".join(proc.stdout.split())
    assert "(default: bon_tiny)" in text and "(default: tiny- llama)" in text.replace("tiny-llama", "tiny- llama")


def test_planner_and_plotting_help_and_errors_are_clear():
    proc = _probe("recipes/elicitation/plan.py", "--help")
    assert proc.stdout.strip().endswith("TORCH_NOT_LOADED 0") and "--weak-cost" in proc.stdout
    proc = _probe("recipes/elicitation/plan.py", "--run", "no/such/run", "--budget", "5", "--weak-cost", "0.1",
                  "--task", "boolq")  # fmt: skip
    assert "error: --run no/such/run: no such folder" in proc.stdout and "Traceback" not in proc.stderr
    plotting = [sys.executable, "-m", "rlnoise.plotting"]
    proc = subprocess.run([*plotting, "--help"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0 and "RUN_DIR" in proc.stdout and "results.json" in proc.stdout
    proc = subprocess.run(plotting, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "required: RUN_DIR" in proc.stderr and "Traceback" not in proc.stderr


def test_plotting_names_a_missing_or_unfinished_run(tmp_path):
    from rlnoise.plotting import main

    with pytest.raises(SystemExit) as missing:
        main([str(tmp_path / "nope")])
    assert missing.value.code == 2
    (tmp_path / "run").mkdir()
    with pytest.raises(SystemExit):
        main([str(tmp_path / "run")])
    (tmp_path / "run" / "results.json").write_text(json.dumps({"recipe": "mystery"}))
    with pytest.raises(SystemExit):
        main([str(tmp_path / "run")])


def test_bad_command_lines_stop_with_one_line_naming_the_problem(tmp_path):
    from rlnoise.overoptimization.config import BonStudyConfig

    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("- a list\n- not a mapping\n")
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("n_bon_promts: 4\n")
    cases = [
        (["--config", str(tmp_path / "missing.yaml")], "no such file"),
        (["--config", str(bad_yaml)], "must hold a YAML mapping"),
        (["--config", str(unknown)], "n_bon_promts"),
        (["--pool_size", "0"], "pool_size must be an integer > 0, got 0"),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as err:
            parse_config(BonStudyConfig, argv=argv)
        assert message in str(err.value), (argv, err.value)
    with pytest.raises(SystemExit):  # argparse's own error for a choice outside the list
        parse_config(BonStudyConfig, argv=["--objectives", "median"])


def test_config_name_lists_match_the_registries():
    from rlnoise.adapters.config import ADAPTER_NAMES, NORMALIZATIONS
    from rlnoise.adapters.heads import ADAPTERS
    from rlnoise.adapters.spectrum import NORMALIZATIONS as SPECTRUM_NORMALIZATIONS
    from rlnoise.core.data import BINARY_TASKS
    from rlnoise.core.tasks import BINARY_TASKS as TASK_NAMES
    from rlnoise.overoptimization.config import OBJECTIVE_NAMES
    from rlnoise.overoptimization.objectives import OBJECTIVES

    assert tuple(OBJECTIVES) == OBJECTIVE_NAMES
    assert tuple(ADAPTERS) == ADAPTER_NAMES
    assert SPECTRUM_NORMALIZATIONS is NORMALIZATIONS and TASK_NAMES is BINARY_TASKS


def test_preset_summary_is_the_first_sentence_of_the_header_comment(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("# Coste et al. (2024) scale, for GPUs. Not run in CI.\n# more\nrun_name: x\n")
    assert preset_summary(path) == "Coste et al. (2024) scale, for GPUs"
    path.write_text("run_name: x\n")
    assert preset_summary(path) == ""


def test_plain_progress_prints_a_few_lines_without_escape_codes(capsys):
    assert list(_plain_progress(range(8), "sampling pool", 8)) == list(range(8))
    lines = capsys.readouterr().err.splitlines()
    assert [line.split("(")[0].strip() for line in lines] == [
        "sampling pool: 2/8",
        "sampling pool: 4/8",
        "sampling pool: 6/8",
    ]
    assert not any("\r" in line or "\x1b" in line for line in lines)
    assert list(_plain_progress(range(3), "short", 3)) == [0, 1, 2] and capsys.readouterr().err == ""


def test_duration():
    assert [duration(s) for s in (4.4, 59.6, 192, 3900)] == ["4 s", "1 min 00 s", "3 min 12 s", "1 h 05 min"]


def test_samples_markdown_quotes_texts_and_tabulates_records():
    samples = [
        {
            "noise": "coste",
            "prompt": "How do I keep earbuds from tangling? Answer in one or two sentences, please, briefly.",
            "picks": {"mean": [{"n": 1, "gold": 0.5, "proxy": -1.25, "response": "Wrap | them."}]},
        },
        {"step": 3, "response": "short", "gold": 1.0, "proxy": [0.5, 0.25]},
    ]
    assert samples_markdown(samples, "Samples of run").splitlines() == [
        "# Samples of run",
        "",
        "## 1. noise coste",
        "",
        "**prompt**",
        "",
        "> How do I keep earbuds from tangling? Answer in one or two sentences, please, briefly.",
        "",
        "**picks**",
        "",
        "| name | n | gold | proxy | response |",
        "|---|---|---|---|---|",
        "| mean | 1 | 0.500 | -1.250 | Wrap \\| them. |",
        "",
        "## 2. step 3, response short, gold 1.000, proxy [0.500, 0.250]",
    ]


def test_quiet_mode_hides_known_warnings_only_and_verbose_keeps_them(monkeypatch):
    import os
    import warnings

    from rlnoise.core.console import set_verbose

    for name in ("TRANSFORMERS_VERBOSITY", "HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS"):
        monkeypatch.setenv(name, "unset")  # so that monkeypatch restores the variable after the test
        monkeypatch.delenv(name)
    known = "`gradient_checkpointing_enable` is deprecated and will be removed in v6."
    for verbose, expected in ((False, ["something new"]), (True, [known, "something new"])):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            set_verbose(verbose)
            warnings.warn(known, FutureWarning, stacklevel=1)
            warnings.warn("something new", UserWarning, stacklevel=1)
        assert [str(w.message) for w in seen] == expected
    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1" and os.environ["TRANSFORMERS_VERBOSITY"] == "error"
    set_verbose(False)
