"""The layout's contracts: core imports no study, studies never import each other, tests import no test or recipe,
and the architecture document names only paths that exist."""

import re
import subprocess
import sys
from pathlib import Path

from helpers import ROOT


def test_import_contracts_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "2 kept, 0 broken" in proc.stdout


def test_tests_import_no_test_module_and_no_recipe():
    for path in (ROOT / "tests").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(from|import) test_", text, re.M), f"{path} imports another test module"
        assert not re.search(r"sys\.path\.insert\(.*recipes", text), f"{path} puts recipes on sys.path"


def test_architecture_document_names_existing_paths():
    text = (ROOT / "docs" / "architecture.md").read_text()
    for name in sorted(
        set(re.findall(r"`((?:rlnoise|overoptimization|tint|elicitation|adapters|core)/[\w/]+\.py)`", text))
    ):
        candidates = [ROOT / name, ROOT / "rlnoise" / name]
        assert any(p.exists() for p in candidates), f"docs/architecture.md names {name}, which does not exist"


def test_a_title_wider_than_its_figure_is_wrapped(tmp_path):
    """A one-column figure's long title is wrapped to the figure's width, so nothing of it is cut off."""
    from rlnoise.core.figures import plt, save_figure

    fig, _ = plt.subplots(figsize=(4.6, 3))
    fig.suptitle("PPO: gold and proxy over training\n(bands: 95% over evaluation prompts and 2 seeds, pooled; "
                 "dotted: Gao RL fit)", fontsize=11)  # fmt: skip
    save_figure(fig, tmp_path / "fig")
    lines = fig.get_suptitle().split("\n")
    assert len(lines) == 3 and max(map(len, lines)) <= int(4.6 * 72 / (0.55 * 11))
    words = "PPO: gold and proxy over training (bands: 95% over evaluation prompts and 2 seeds, pooled; dotted: Gao RL"
    assert " ".join(lines) == words + " fit)"  # every word kept, in order
