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


# The README links to one page per study under docs/; those pages must stand alone the same way: every path they
# name exists, every relative link and image resolves from docs/ (anchors included), nothing leaves the repository.
DOCS = sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _without_code(text: str) -> str:
    text = re.sub(r"(?ms)^```.*?^```", "", text)
    return re.sub(r"`[^`\n]*`", "", text)


def _anchors(path) -> set[str]:
    anchors, seen = set(), {}
    for heading in re.findall(r"(?m)^#+ (.+)$", re.sub(r"(?ms)^```.*?^```", "", path.read_text())):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def _broken_links(page) -> list[str]:
    broken = []
    for target in LINK.findall(_without_code(page.read_text())):
        if re.match(r"[a-z]+:", target):  # http(s), mailto: the pages name none, but they would not be paths
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if ROOT.resolve() not in (resolved, *resolved.parents):
            broken.append(f"{target} (outside the repository)")
        elif not resolved.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target} (no such heading)")
    return broken


def test_the_docs_pages_exist_and_the_readme_links_each_study_page():
    names = {page.name for page in DOCS}
    for name in ("overoptimization.md", "tint.md", "elicitation.md", "nmtune.md", "performance.md", "statistics.md"):
        assert name in names, f"docs/{name} is missing"
        assert f"](docs/{name}" in README, f"the README does not link docs/{name}"


def test_every_link_in_the_readme_and_the_docs_resolves_with_its_anchor():
    broken = {page.name: _broken_links(page) for page in [ROOT / "README.md", *DOCS]}
    assert not any(broken.values()), f"links that do not resolve: { {k: v for k, v in broken.items() if v} }"


def test_every_repository_path_in_the_docs_exists_and_nothing_points_outside_the_repository():
    for page in DOCS:
        text = page.read_text()
        missing = [
            path
            for path in sorted(set(REPO_PATH.findall(text)))
            if not ("<" in path or "*" in path or path.endswith("/...")) and not (ROOT / path).exists()
        ]
        assert not missing, f"docs/{page.name} names paths that do not exist: {missing}"
        assert "shared/" not in text and "../shared" not in text, f"docs/{page.name} points outside the repository"
