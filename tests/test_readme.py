"""The README is what a newcomer follows: every path, recipe command, preset, make target and internal link it
names exists, and it never points outside the repository."""

import re

from helpers import ROOT

README = (ROOT / "README.md").read_text()
REPO_PATH = re.compile(r"(?<![\w/.-])((?:recipes|rlnoise|tests|bench|docs|data)/[\w./-]*\w)")


def _headings_as_anchors() -> set[str]:
    anchors = set()
    for heading in re.findall(r"(?m)^#+ (.+)$", README):
        anchors.add(re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-"))
    return anchors


def test_every_repository_path_in_the_readme_exists():
    missing = []
    for path in sorted(set(REPO_PATH.findall(README))):
        if "<" in path or "*" in path or path.endswith("/..."):
            continue
        if not (ROOT / path).exists():
            missing.append(path)
    assert not missing, f"README names paths that do not exist: {missing}"


def test_every_recipe_command_names_an_existing_script_and_preset():
    commands = re.findall(r"(recipes/[\w/]+\.py)([^\n]*)", README)
    assert len(commands) > 10
    for script, rest in commands:
        assert (ROOT / script).is_file(), script
        preset = re.search(r"--config (\S+\.yaml)", rest)
        if preset and "..." not in preset.group(1):
            assert (ROOT / preset.group(1)).is_file(), preset.group(1)


def test_make_targets_and_links_exist_and_nothing_points_outside_the_repository():
    makefile = (ROOT / "Makefile").read_text()
    for target in set(re.findall(r"`make ([\w-]+)`|^make ([\w-]+)", README, re.M)):
        name = target[0] or target[1]
        assert re.search(rf"(?m)^{re.escape(name)}:", makefile), f"make {name} is not a Makefile target"
    anchors = _headings_as_anchors()
    for anchor in re.findall(r"\]\(#([\w-]+)\)", README):
        assert anchor in anchors, f"README links to #{anchor}, which is no heading"
    for target in re.findall(r"\]\(([^)#\s,]+)\)", README):  # markdown links, not code such as f(x, y)
        assert (ROOT / target).exists(), f"README links to {target}, which does not exist"
    assert not re.search(r"(?<!\.)\.\./", README) and "shared/" not in README, "README points outside the repository"
