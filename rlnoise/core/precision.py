"""Reduced-precision forward passes, and the checks that decide whether they may stand in for float32.

A faster path is only a speed-up if it samples from (or scores with) the same model. :func:`next_token_fidelity`
compares the next-token distributions of a model under two precisions on the same token sequences; the thresholds
below are what "the same policy" means for rlnoise's studies:

- ``KL_LIMIT = 1e-4`` nats per token: over a 48-token response that is at most ~0.005 nats, under 3% of the
  smallest KL the best-of-n curves resolve (n = 2: log 2 - 1/2 = 0.19 nats). A per-token KL of 1e-3 would already
  shift a response's log-likelihood by ~0.05 nats, a quarter of that first step, so it is not negligible here.
- ``AGREEMENT_LIMIT = 0.99``: the greedy (argmax) token agrees at 99% of positions or more.

bfloat16 on SmolLM2-135M measures ~1.2e-3 nats/token and 0.96 agreement (see docs/performance.md), so float32
stays the default and bfloat16 is an explicit ``dtype`` choice, for GPUs and for runs that accept the drift.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import asdict, dataclass

import torch

from rlnoise.core.config import DTYPES, check_choice

KL_LIMIT = 1e-4
AGREEMENT_LIMIT = 0.99


def precision(dtype: str, device: torch.device | str | None = None):
    """A context in which forward passes run at ``dtype``: nothing for float32, autocast for bfloat16.

    Autocast keeps the float32 weights (a policy being trained stays float32) and runs the matrix products in
    bfloat16, which these CPUs (AVX-512 BF16) and GPUs compute ~2x faster.
    """
    check_choice("dtype", dtype, DTYPES)
    if dtype == "float32":
        return nullcontext()
    device_type = torch.device(device).type if device is not None else "cpu"
    return torch.autocast(device_type, dtype=torch.bfloat16)


@dataclass(frozen=True)
class Fidelity:
    """How far ``dtype`` moves a model's next-token distributions from float32 on the same tokens."""

    dtype: str
    mean_kl: float  # KL(float32 || dtype) per token, nats, mean over the compared positions
    max_kl: float
    greedy_agreement: float  # share of positions whose argmax token is the same
    positions: int

    @property
    def passes(self) -> bool:
        return self.mean_kl <= KL_LIMIT and self.greedy_agreement >= AGREEMENT_LIMIT

    def summary(self) -> str:
        verdict = "passes" if self.passes else "fails"
        return (
            f"{self.dtype} vs float32 over {self.positions} tokens: KL {self.mean_kl:.1e} nats/token "
            f"(max {self.max_kl:.1e}), greedy agreement {self.greedy_agreement:.4f}: {verdict} "
            f"(limits KL <= {KL_LIMIT:g}, agreement >= {AGREEMENT_LIMIT})"
        )

    def as_dict(self) -> dict:
        return {**asdict(self), "passes": self.passes}


def native_cpu_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (oneDNN's check: AVX-512 BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN: assume it does, so say nothing
        return True


BF16 = "bfloat16"


def slow_bfloat16_warning(configs) -> str | None:
    """A warning for a run that asks for bfloat16 (any ``*dtype`` field of its configs) where it is slow: on a CPU
    without native bfloat16, autocast's matrix products run at about 1 GFLOP/s against 141 in float32 (2-core
    AVX2 machine, docs/performance.md), so a preset tuned on an AVX-512 machine takes many times longer."""
    from dataclasses import fields

    asked = [f.name for c in configs for f in fields(c) if f.name.endswith("dtype") and getattr(c, f.name) == BF16]
    if not asked or torch.cuda.is_available() or native_cpu_bfloat16():
        return None
    flags = " ".join(f"--{name} float32" for name in asked)
    return (
        f"warning: {', '.join(asked)}: bfloat16 on this CPU ({torch.backends.cpu.get_cpu_capability()}, no native "
        "bfloat16) runs matrix products far slower than float32 (about 1 against 141 GFLOP/s on an AVX2 machine); "
        f"{flags} runs at full speed here (bfloat16 pays off on CPUs with AVX-512 BF16 or AMX, and on GPUs)"
    )


@torch.no_grad()
def trainer_precision(dtype: str) -> dict:
    """transformers ``TrainingArguments`` for a run's dtype: bfloat16 autocast, which transformers allows on a
    machine without CUDA only with ``use_cpu`` (it stops with "Your setup doesn't support bf16/gpu" otherwise)."""
    check_choice("dtype", dtype, DTYPES)
    bf16 = dtype == "bfloat16"
    return dict(bf16=bf16, use_cpu=bf16 and not torch.cuda.is_available())


def next_token_fidelity(lm, inputs: dict[str, torch.Tensor], dtype: str) -> Fidelity:
    """Compare ``lm``'s next-token distributions in float32 and at ``dtype`` at every non-padding position.

    ``inputs`` (``input_ids``, ``attention_mask`` and, for left padding, ``position_ids``) go to ``lm`` as they are;
    pass the sequences the study samples (prompt + response), so the comparison covers the states it visits.
    """
    was_training = lm.training
    lm.eval()
    try:
        reference = torch.log_softmax(lm(**inputs).logits.double(), -1)  # float64: KLs near 1e-7 stay exact
        with precision(dtype, inputs["input_ids"].device):
            candidate = torch.log_softmax(lm(**inputs).logits.double(), -1)
    finally:
        lm.train(was_training)
    kept = inputs["attention_mask"].bool()
    kl = (reference.exp() * (reference - candidate)).sum(-1)[kept].clamp_min(0)
    agree = (reference.argmax(-1) == candidate.argmax(-1))[kept].float()
    return Fidelity(dtype, float(kl.mean()), float(kl.max()), float(agree.mean()), int(kept.sum()))
