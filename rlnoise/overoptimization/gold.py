"""Gold rewards: the ground truth that proxies are trained to imitate and that best-of-n / RL are judged by.

:class:`RubricGold` needs no hub: it scores a response with a weighted sum of interpretable signals, so a reader
can say what it prefers (see :class:`GoldConfig`). It differs in kind from the proxies, which are neural reward
models trained on (noisy) pairwise labels. :class:`HFRewardModelGold` wraps any sequence-classification reward
model id or path (Coste et al. used AlpacaFarm's reward model) for users with a network and a GPU.
"""

from __future__ import annotations

import math
import re
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F

from rlnoise.core.models import forward_by_length, load_model
from rlnoise.overoptimization.config import GoldConfig


@runtime_checkable
class GoldReward(Protocol):
    """Anything with a batched, deterministic ``score(prompts, responses) -> Tensor[B]``."""

    def score(self, prompts: list[str], responses: list[str]) -> torch.Tensor: ...


_WORD = re.compile(r"[A-Za-z0-9']+")


def repetition_fraction(text: str) -> float:
    """Fraction of word trigrams that repeat an earlier trigram (0 for fewer than 4 words)."""
    words = [w.lower() for w in _WORD.findall(text)]
    grams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    return 0.0 if len(grams) < 2 else 1.0 - len(set(grams)) / len(grams)


def length_score(text: str, target_words: int) -> float:
    """-|log2(n_words / target)|: 0 at the target, -1 at half or double it."""
    n = max(len(_WORD.findall(text)), 1)
    return -abs(math.log2(n / target_words))


class SentenceEncoder:
    """Mean-pooled, L2-normalised sentence embeddings from an encoder in the model registry."""

    def __init__(self, name: str = "minilm-l6", batch_size: int = 64, max_length: int = 256, dtype: str = "float32"):
        self.model, self.tokenizer = load_model(name, "encoder")
        self.model.eval()
        self.batch_size, self.max_length, self.dtype = batch_size, max_length, dtype

    @torch.no_grad()
    def encode(self, texts: list[str]) -> torch.Tensor:
        def embed(batch):
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            return F.normalize((hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0), dim=-1)

        out = forward_by_length(embed, self.tokenizer, texts, self.batch_size, self.max_length, dtype=self.dtype)
        return out.float() if out is not None else torch.zeros(0, self.model.config.hidden_size)


class RubricGold:
    """The embedded gold reward: a documented, weighted rubric of real signals (see :class:`GoldConfig`).

    Args:
        config: rubric weights.
        references: optional mapping prompt -> (reference answer, list of wrong options); prompts without an
            entry get no agreement term.
    """

    def __init__(self, config: GoldConfig | None = None, references: dict[str, tuple[str, list[str]]] | None = None):
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.config = config or GoldConfig()
        self.references = dict(references or {})
        self.encoder = SentenceEncoder(self.config.gold_encoder, self.config.gold_batch_size)
        self.vader = SentimentIntensityAnalyzer()
        self._cache: dict[str, torch.Tensor] = {}

    def _embed(self, texts: list[str]) -> torch.Tensor:
        """Embeddings of prompts and reference options, memoised (they repeat across many responses)."""
        todo = sorted({t for t in texts if t not in self._cache})
        if todo:
            for t, e in zip(todo, self.encoder.encode(todo)):
                self._cache[t] = e
        return torch.stack([self._cache[t] for t in texts])

    def signals(self, prompts: list[str], responses: list[str]) -> dict[str, torch.Tensor]:
        """Each rubric signal per pair, before weighting (useful to see why a response scored as it did)."""
        if len(prompts) != len(responses):
            raise ValueError(f"prompts and responses must have equal length, got {len(prompts)} and {len(responses)}")
        if not responses:
            return {k: torch.zeros(0) for k in ("agreement", "relevance", "sentiment", "length", "repetition")}
        resp = self.encoder.encode([r if r.strip() else "." for r in responses])
        relevance = (resp * self._embed(prompts)).sum(-1)
        agreement = torch.zeros(len(prompts))
        for i, p in enumerate(prompts):
            if p in self.references:
                reference, wrong = self.references[p]
                ref = (resp[i] * self._embed([reference])[0]).sum()
                worst = max((float((resp[i] * e).sum()) for e in self._embed(list(wrong))), default=0.0)
                agreement[i] = ref - worst if wrong else ref
        sentiment = torch.tensor([self.vader.polarity_scores(r)["compound"] for r in responses])
        length = torch.tensor([length_score(r, self.config.target_words) for r in responses])
        repetition = torch.tensor([repetition_fraction(r) for r in responses])
        return dict(
            agreement=agreement, relevance=relevance, sentiment=sentiment, length=length, repetition=repetition
        )

    def score(self, prompts: list[str], responses: list[str]) -> torch.Tensor:
        s, c = self.signals(prompts, responses), self.config
        return (
            c.w_agreement * s["agreement"]
            + c.w_relevance * s["relevance"]
            + c.w_sentiment * s["sentiment"]
            + c.w_length * s["length"]
            - c.w_repetition * s["repetition"]
        ).float()


class HFRewardModelGold:
    """Gold from any sequence-classification reward model id or path (single scalar output)."""

    def __init__(self, name_or_path: str, batch_size: int = 16, max_length: int = 1024, device: str | None = None):
        self.model, self.tokenizer = load_model(name_or_path, "reward_model")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device).eval()
        self.batch_size, self.max_length = batch_size, max_length

    @torch.no_grad()
    def score(self, prompts: list[str], responses: list[str]) -> torch.Tensor:
        texts = [rm_text(p, r, self.tokenizer) for p, r in zip(prompts, responses)]
        out = forward_by_length(
            lambda batch: self.model(**batch).logits[:, 0].float().cpu(),
            self.tokenizer,
            texts,
            self.batch_size,
            self.max_length,
            device=self.device,
        )
        return out if out is not None else torch.zeros(0)


def rm_text(prompt: str, response: str, tokenizer) -> str:
    """The text a reward model reads for one (prompt, response): the same format in training and in scoring."""
    return f"{prompt}\n\n{response}{tokenizer.eos_token or ''}"
