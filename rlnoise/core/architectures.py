"""The architecture of any model a preset names, without its weights: the hub models of the paper presets (their
published configs, since these machines cannot reach the hub), the embedded models (their shipped configs) and the
tiny test models; and its parameter count, from the model built on the meta device (accelerate's
``init_empty_weights``: no memory, about a second)."""

from __future__ import annotations

import copy
import functools

from transformers import AutoConfig, PretrainedConfig

from rlnoise.core.models import EMBEDDED, TINY, embedded_path, load_tokenizer

_PYTHIA = dict(model_type="gpt_neox", vocab_size=50304, max_position_embeddings=2048, rotary_pct=0.25)
_PYTHIA_SIZES = {  # hidden size, layers, heads (intermediate 4x hidden)
    "70m": (512, 6, 8),
    "160m": (768, 12, 12),
    "410m": (1024, 24, 16),
    "1b": (2048, 16, 8),
    "1.4b": (2048, 24, 16),
    "2.8b": (2560, 32, 32),
}
# Each model's config.json on the Hugging Face hub (Biderman et al. 2023, Pythia; Dubois et al. 2023, AlpacaFarm,
# whose reward models are LLaMA-7B with one added pad token and a scalar head).
HUB: dict[str, dict] = {
    f"EleutherAI/pythia-{size}{suffix}": dict(
        _PYTHIA, hidden_size=h, num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=4 * h
    )
    for size, (h, layers, heads) in _PYTHIA_SIZES.items()
    for suffix in ("", "-deduped")
}
_LLAMA_7B = dict(
    model_type="llama",
    hidden_size=4096,
    num_hidden_layers=32,
    num_attention_heads=32,
    num_key_value_heads=32,
    intermediate_size=11008,
    vocab_size=32001,
    max_position_embeddings=2048,
)
HUB["tatsu-lab/alpaca-farm-reward-model-human-wdiff"] = _LLAMA_7B
HUB["huggyllama/llama-7b"] = dict(_LLAMA_7B, vocab_size=32000)


def known_models() -> list[str]:
    return sorted({*HUB, *EMBEDDED, *TINY})


@functools.cache
def architecture(name: str) -> PretrainedConfig:
    """The transformers config of ``name``: a hub model above, an embedded or tiny model, or a local folder."""
    if name in HUB:
        return AutoConfig.for_model(**HUB[name])
    if name in EMBEDDED:
        return AutoConfig.from_pretrained(embedded_path(name))
    if name in TINY:
        overrides = dict(TINY[name][1])
        return AutoConfig.for_model(overrides.pop("model_type"), vocab_size=len(load_tokenizer(name)), **overrides)
    try:
        return AutoConfig.from_pretrained(name)
    except (OSError, ValueError):
        raise ValueError(
            f"model {name!r}: its architecture is unknown here (no hub access); known: {', '.join(known_models())}, "
            "or a local folder with a config.json"
        ) from None


@functools.cache
def parameter_count(name: str, kind: str = "causal_lm") -> int:
    """Parameters of ``name`` built as ``kind`` (causal_lm, reward_model with one score, or encoder)."""
    return _counts(name, kind)[0]


def compute_parameters(name: str, kind: str = "causal_lm") -> int:
    """The parameters a token's matmuls pass through, which set a pass's FLOPs and a decode step's weight reads:
    all but the embedding tables, which are lookups (Kaplan et al. 2020 count FLOPs from the non-embedding
    parameters), with a language model's tied output layer counted back, since it multiplies every position."""
    return _counts(name, kind)[1]


@functools.cache
def _counts(name: str, kind: str) -> tuple[int, int]:
    import torch
    from accelerate import init_empty_weights
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification

    auto = {"causal_lm": AutoModelForCausalLM, "reward_model": AutoModelForSequenceClassification}
    config = architecture(name)
    if kind == "reward_model":
        config = copy.deepcopy(config)  # the cached architecture stays as it is
        config.num_labels = 1
    with init_empty_weights():
        model = auto.get(kind, AutoModel).from_config(config)
    model.tie_weights()  # on the meta device from_config leaves tied embeddings as two tensors
    total = sum(p.numel() for p in model.parameters())
    tables = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding))
    head = model.get_output_embeddings() if kind == "causal_lm" else None
    tied = head is not None and head.weight is model.get_input_embeddings().weight
    return total, total - tables + (head.weight.numel() if tied else 0)


def dims(name: str) -> dict:
    """hidden, layers, heads, kv_heads, head_dim, intermediate, vocab and attention_dropout of ``name``."""
    c = architecture(name)
    heads = c.num_attention_heads
    dropout = getattr(c, "attention_probs_dropout_prob", None) or getattr(c, "attention_dropout", None) or 0.0
    return dict(
        hidden=c.hidden_size,
        layers=c.num_hidden_layers,
        heads=heads,
        kv_heads=getattr(c, "num_key_value_heads", None) or heads,
        head_dim=getattr(c, "head_dim", None) or c.hidden_size // heads,
        intermediate=c.intermediate_size,
        vocab=c.vocab_size,
        attention_dropout=float(dropout),  # BERT's 0.1; Llama and GPT-NeoX train without
    )
