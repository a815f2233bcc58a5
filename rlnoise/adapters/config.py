"""Configs of the NMTune study: the study grid and the adapter. No torch is imported here, so the recipe answers
``--help`` and bad flags before any model library loads."""

from __future__ import annotations

from dataclasses import dataclass, field

from rlnoise.core.config import (
    DTYPES,
    POOLINGS,
    RunSettings,
    check_choice,
    check_lists,
    check_positive,
    check_probability,
)
from rlnoise.core.data import data_yaml
from rlnoise.core.noise import parse_noise_spec

PAIRS: dict[str, tuple[str, str]] = {k: tuple(v) for k, v in data_yaml("nmtune_pairs.yaml").items()}  # ID, OOD
SINGLE_TEXT_TASKS = tuple(data_yaml("tasks.yaml")["sentiment"])  # no question/answer parts to embed apart
FEATURE_MODES = ("text", "pair")
NORMALIZATIONS = ("none", "center", "l2", "standardize", "reference")
# The names of rlnoise.adapters.heads.ADAPTERS (a test checks they agree), listed here without importing torch.
ADAPTER_NAMES = ("linear", "mlp", "residual_mlp", "nmtune", "nmtune_fgs")


@dataclass
class NMTuneStudyConfig(RunSettings):
    """Pairs, features, adapters, seeds, label noise and the simulation of an NMTune study."""

    run_name: str = field(default="nmtune_quick", metadata={"help": "Run folder name under runs/nmtune/."})
    pairs: list[str] = field(
        default_factory=lambda: ["csqa->obqa"], metadata={"help": "ID->OOD task pairs.", "choices": sorted(PAIRS)}
    )
    feature_model: str = field(
        default="minilm-l6",
        metadata={"help": "Registry model, hub id, or file:PATH ({task} is replaced by the task name)."},
    )
    feature_pooling: str = field(
        default="mean", metadata={"help": "Pooling of token states: mean or last token.", "choices": POOLINGS}
    )
    feature_l2: bool = field(default=True, metadata={"help": "L2-normalise embeddings before use."})
    feature_dtype: str = field(
        default="float32",
        metadata={
            "help": "Precision of the feature pass and of the noisy encoders' fine-tuning: bfloat16 is ~2.3x "
            "faster and moves each text's features by ~1% (SmolLM2) or cosines by <5e-3 (MiniLM); float32 is the "
            "reference.",
            "choices": DTYPES,
        },
    )
    feature_mode: str = field(
        default="pair",
        metadata={"help": "text (one vector per example) or pair ([q, a, q*a, |q-a|]).", "choices": FEATURE_MODES},
    )
    adapters: list[str] = field(
        default_factory=lambda: sorted(ADAPTER_NAMES),
        metadata={"help": "Adapters to compare.", "choices": ADAPTER_NAMES},
    )
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2], metadata={"help": "Adapter seeds."})
    label_noise: str = field(
        default="none",
        metadata={
            "help": "Noise on the downstream training labels, e.g. symmetric:p=0.2 (rlnoise.core.noise models)."
        },
    )
    test_share: float = field(default=0.3, metadata={"help": "Share of the ID task held out as the ID test set."})
    spectrum_normalization: str = field(
        default="center",
        metadata={"help": "Feature normalisation applied before SVE / LSVR.", "choices": NORMALIZATIONS},
    )
    simulation: bool = field(default=True, metadata={"help": "Also run the noisy pre-training simulation."})
    sim_noise_rates: list[float] = field(
        default_factory=lambda: [0.0, 0.05, 0.1, 0.2, 0.3],
        metadata={"help": "Pre-training label-noise rates of the simulation."},
    )
    sim_seeds: list[int] = field(default_factory=lambda: [0], metadata={"help": "Simulation seeds."})
    encoder_noise_rates: list[float] = field(
        default_factory=list,
        metadata={
            "help": "Noisy pre-training on real features: fine-tune feature_model on each pair's ID training "
            "labels with these shares flipped (symmetric noise), then run encoder_adapters on its frozen features, ID "
            "and OOD ([] = off; e.g. 0 0.1 0.3)."
        },
    )
    encoder_adapters: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Adapters run on the noisily fine-tuned encoders' features ([] = every one of adapters); the "
            "linear probe is always among them (the noise claims and every comparison rest on it).",
            "choices": ADAPTER_NAMES,
        },
    )
    encoder_epochs: float = field(default=1.0, metadata={"help": "Epochs of that fine-tuning."})
    encoder_learning_rate: float = field(default=5e-5, metadata={"help": "Learning rate of that fine-tuning."})
    sim_pretrain_examples: int = field(default=8000, metadata={"help": "Simulation: pre-training examples."})
    sim_pretrain_epochs: int = field(default=20, metadata={"help": "Simulation: pre-training epochs."})
    sim_downstream_examples: int = field(
        default=1000, metadata={"help": "Simulation: downstream train / ID test / OOD test examples (each)."}
    )

    def __post_init__(self):
        super().__post_init__()
        check_lists(self, allow_empty=("encoder_noise_rates", "encoder_adapters"))
        for r in self.encoder_noise_rates:
            check_probability("encoder_noise_rates", r)
        check_positive("encoder_epochs", self.encoder_epochs)
        check_positive("encoder_learning_rate", self.encoder_learning_rate)
        if self.encoder_noise_rates and self.feature_model.startswith("file:"):
            raise ValueError(
                f"encoder_noise_rates fine-tune feature_model, but {self.feature_model!r} is a file of features: "
                "name a model, or set encoder_noise_rates to []"
            )
        for p in self.pairs:
            check_choice("pairs", p, PAIRS)
        for a in self.adapters:
            check_choice("adapters", a, ADAPTER_NAMES)
        for a in self.encoder_adapters:
            check_choice("encoder_adapters", a, ADAPTER_NAMES)
        if self.encoder_adapters and "linear" not in self.encoder_adapters:
            raise ValueError(
                f"encoder_adapters {self.encoder_adapters} must include linear: the encoder-noise claims and every "
                "adapter comparison are against the linear probe"
            )
        check_choice("spectrum_normalization", self.spectrum_normalization, NORMALIZATIONS)
        check_choice("feature_pooling", self.feature_pooling, POOLINGS)
        check_choice("feature_dtype", self.feature_dtype, DTYPES)
        check_choice("feature_mode", self.feature_mode, FEATURE_MODES)
        single = [p for p in self.pairs if set(PAIRS[p]) & set(SINGLE_TEXT_TASKS)]
        if self.feature_mode == "pair" and single:
            raise ValueError(
                f"feature_mode pair embeds a question and an answer apart, but pairs {single} hold single-text "
                "(sentiment) tasks: use feature_mode text"
            )
        parse_noise_spec(self.label_noise, supplied=())  # class labels: no gold margins or response lengths
        for r in self.sim_noise_rates:
            check_probability("sim_noise_rates", r)
        for name in ("sim_pretrain_examples", "sim_pretrain_epochs", "sim_downstream_examples"):
            check_positive(name, getattr(self, name), integer=True)
        if not 0.0 < self.test_share < 1.0:
            raise ValueError(f"test_share must be in (0, 1), got {self.test_share!r}")


@dataclass
class AdapterConfig:
    """Adapter architecture, loss weights and optimisation (defaults: the official NMTune code's weights)."""

    adapter: str = field(
        default="nmtune", metadata={"help": "Adapter architecture and loss.", "choices": ADAPTER_NAMES}
    )
    hidden: int = field(default=512, metadata={"help": "Hidden width of the MLP adapters."})
    residual_scale: float = field(default=1.0, metadata={"help": "s in z = s * MLP(f) + f."})
    consistency: float = field(default=1.0, metadata={"help": "Weight of MSE(normalize(z), normalize(f))."})
    covariance: float = field(default=0.04, metadata={"help": "Weight of the covariance off-diagonal penalty."})
    singular: float = field(default=0.001, metadata={"help": "Weight of the top-k singular value share (subtracted)."})
    top_k: int = field(default=5, metadata={"help": "k of the singular value term."})
    noise_std: float = field(
        default=0.1,
        metadata={"help": "nmtune_fgs: std of the Gaussian feature perturbation, relative to the features' RMS."},
    )
    variance: float = field(default=1.0, metadata={"help": "nmtune_fgs: weight of the variance term."})
    distill: float = field(default=1.0, metadata={"help": "nmtune_fgs: weight of the KL distillation to f."})
    temperature: float = field(default=0.1, metadata={"help": "nmtune_fgs: temperature of the similarity softmax."})
    epochs: int = field(default=30, metadata={"help": "Passes over the training features."})
    batch_size: int = field(default=256, metadata={"help": "Rows per step (the spectral terms are per batch)."})
    learning_rate: float = field(default=1e-3, metadata={"help": "AdamW learning rate."})
    weight_decay: float = field(default=1e-4, metadata={"help": "AdamW weight decay."})
    seed: int = field(default=0, metadata={"help": "Initialisation and data order."})

    def __post_init__(self):
        check_choice("adapter", self.adapter, ADAPTER_NAMES)
        for name in ("hidden", "top_k", "epochs", "batch_size"):
            check_positive(name, getattr(self, name), integer=True)
        check_positive("learning_rate", self.learning_rate)
        check_positive("temperature", self.temperature)
        for name in (
            "residual_scale",
            "consistency",
            "covariance",
            "singular",
            "noise_std",
            "variance",
            "distill",
            "weight_decay",
        ):
            check_positive(name, getattr(self, name), allow_zero=True)
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 (batch statistics), got {self.batch_size}")
