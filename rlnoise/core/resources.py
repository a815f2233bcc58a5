"""What one stage of a run costs on an accelerator: memory per process and time, from the model's shape, the
stage's batch shapes and token counts, and a device's published (or measured) rates.

Memory per process (bytes). rlnoise keeps float32 weights and runs ``dtype: bfloat16`` as autocast (its precision
module), so weights cost 4 bytes a parameter; training adds float32 gradients (4) and Adam's two moments (8) for
the trainable parameters (mixed-precision training's 16 bytes a parameter, Rajbhandari et al. 2020, ZeRO). ZeRO-2
divides gradients and optimizer states by the processes, ZeRO-3 and FSDP everything. Activations kept for the
backward pass: about 8h + 3i elements per token and layer (the inputs of both norms, the query/key/value, attention
and projection outputs, the MLP's gate, up and activation outputs; attention scores are not kept, as SDPA and flash
kernels recompute them), 2 bytes each under bfloat16 autocast, 4 in float32 (Korthikanti et al. 2022 count 34h
bytes for i = 4h). On a CPU, a model that trains with attention dropout (BERT's 0.1) sends SDPA to its math
path, which keeps the scores, the dropout mask and the dropped probabilities: 3 x heads x seq more per token and
layer (measured: MiniLM at 32 x 128 tokens holds 1.0 GiB after the forward, 1.1 by this count, 0.7 without it);
GPU kernels apply the dropout without storing them. Plus float32 logits and their gradient (8 bytes a token and
vocabulary entry). Generation keeps the key/value cache: 2 x layers x kv_heads x head_dim a token of every
sequence in the batch.

Time. Training costs 6 FLOPs a parameter and token (2 forward, 4 backward), LoRA 4 (the frozen weights get no
gradient); a forward pass 2 (Kaplan et al. 2020), counting the parameters a token's matmuls pass through
(``rlnoise.core.architectures.compute_parameters``: not the embedding lookups). Compute runs at ``MFU`` of the
device's dense matmul peak. A decode step reads every such weight and the cache once, so it takes the larger of its
FLOPs at that rate and its bytes at ``DECODE_BANDWIDTH`` of the memory bandwidth.
Attention's own FLOPs are left out (under 10% at these lengths).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

GIB = 2**30
ACTIVATION_BYTES = {"float32": 4, "bfloat16": 2}
MFU = 0.4  # share of the dense peak a tuned training or prefill step reaches: PaLM 46% (Chowdhery et al. 2022)
DECODE_BANDWIDTH = 0.6  # share of the memory bandwidth a decode step reaches (small batches read weights, not FLOPs)
ENGINES = ("ddp", "zero2", "zero3", "fsdp")


@dataclass(frozen=True)
class Device:
    name: str
    memory_gib: float
    tflops: float  # dense matmul peak at the run's precision (bfloat16 on GPUs)
    bandwidth_gbs: float
    source: str
    runtime_gib: float = 1.0  # what the process holds besides the stage's tensors (CUDA context, allocator, libraries)
    cpu: bool = False  # attention with dropout runs SDPA's math path here, which keeps the scores (module docstring)


DEVICES = {
    "h100-80gb": Device(
        "NVIDIA H100 SXM 80 GB", 80, 989, 3350, "NVIDIA H100 datasheet: 989 TFLOP/s dense bfloat16, 3.35 TB/s HBM3"
    ),
    "h200-141gb": Device(
        "NVIDIA H200 SXM 141 GB", 141, 989, 4800, "NVIDIA H200 datasheet: 989 TFLOP/s dense bfloat16, 4.8 TB/s HBM3e"
    ),
    "a100-80gb": Device(
        "NVIDIA A100 SXM 80 GB", 80, 312, 2039, "NVIDIA A100 datasheet: 312 TFLOP/s dense bfloat16, 2,039 GB/s HBM2e"
    ),
}


def cpu_device(threads: int | None = None) -> Device:
    """This machine, measured: its best float32 matmul rate, its memory copy rate and its RAM; the runtime is the
    resident size of a process that has imported torch, transformers and trl (as every recipe does)."""
    import psutil
    import torch
    import transformers  # noqa: F401
    import trl  # noqa: F401

    if threads:
        torch.set_num_threads(threads)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    best = min(_timed(lambda: a @ b) for _ in range(10))
    big, target = torch.ones(64 * 2**20 // 4), torch.empty(64 * 2**20 // 4)
    copy = min(_timed(lambda: target.copy_(big)) for _ in range(5))
    return Device(
        f"this CPU ({torch.get_num_threads()} threads, {torch.backends.cpu.get_cpu_capability()})",
        psutil.virtual_memory().total / GIB,
        2 * 1024**3 / best / 1e12,
        2 * big.numel() * 4 / copy / 1e9,
        "measured here: float32 1024^2 matmul, 64 MiB copy",
        runtime_gib=psutil.Process().memory_info().rss / GIB,
        cpu=True,
    )


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@dataclass
class Memory:
    """Bytes one process holds for a stage."""

    weights: float = 0.0
    gradients: float = 0.0
    optimizer: float = 0.0
    activations: float = 0.0
    kv_cache: float = 0.0

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer + self.activations + self.kv_cache

    def __add__(self, other: Memory) -> Memory:
        return Memory(**{k: v + getattr(other, k) for k, v in asdict(self).items()})


def activation_elements(d: dict) -> int:
    """Elements kept for the backward pass per token and layer (module docstring)."""
    return 8 * d["hidden"] + 3 * d["intermediate"]


def training_memory(
    params: int,
    trainable: int,
    d: dict,
    batch: int,
    seq: int,
    dtype: str,
    processes=1,
    engine="ddp",
    logits=True,
    math_attention=False,
) -> Memory:
    """A training step of ``batch`` sequences of ``seq`` tokens (``math_attention``: on a CPU, where attention
    with dropout keeps its scores; GPU kernels apply dropout without storing them)."""
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r}: expected one of {', '.join(ENGINES)}")
    shards = {"ddp": (1, 1), "zero2": (1, processes), "zero3": (processes, processes), "fsdp": (processes, processes)}
    weight_shards, state_shards = shards[engine]
    tokens = batch * seq
    kept_scores = math_attention and d.get("attention_dropout")
    per_token = activation_elements(d) + (3 * d["heads"] * seq if kept_scores else 0)
    activations = tokens * d["layers"] * per_token * ACTIVATION_BYTES[dtype]
    if logits:
        activations += 8 * tokens * d["vocab"]
    return Memory(
        weights=4 * params / weight_shards,
        gradients=4 * trainable / state_shards,
        optimizer=8 * trainable / state_shards,
        activations=activations,
    )


def forward_memory(params: int, d: dict, batch: int, seq: int, dtype: str, logits=False) -> Memory:
    """A no-grad forward pass: weights and one layer's activations at a time (plus the logits of a language
    model head)."""
    activations = batch * seq * activation_elements(d) * ACTIVATION_BYTES[dtype]
    if logits:
        activations += 4 * batch * seq * d["vocab"]
    return Memory(weights=4 * params, activations=activations)


def kv_cache_bytes(d: dict, sequences: int, length: int, dtype: str) -> float:
    return 2 * d["layers"] * d["kv_heads"] * d["head_dim"] * sequences * length * ACTIVATION_BYTES[dtype]


def generation_memory(params: int, d: dict, batch: int, prompt: int, new: int, dtype: str) -> Memory:
    """Sampling ``batch`` sequences of ``prompt`` + ``new`` tokens: the cache, one step's activations and
    float32 logits over the vocabulary (and their softmax)."""
    step = batch * (activation_elements(d) * ACTIVATION_BYTES[dtype] + 8 * d["vocab"])
    return Memory(weights=4 * params, activations=step, kv_cache=kv_cache_bytes(d, batch, prompt + new, dtype))


def compute_seconds(flops: float, device: Device) -> float:
    return flops / (device.tflops * 1e12 * MFU)


def train_seconds(params: int, tokens: float, device: Device, lora: bool) -> float:
    return compute_seconds((4 if lora else 6) * params * tokens, device)


def forward_seconds(params: int, tokens: float, device: Device) -> float:
    return compute_seconds(2 * params * tokens, device)


def generation_seconds(
    params: int, d: dict, prompts: int, per_prompt: int, prompt: int, new: int, batch: int, dtype: str, device: Device,
    shared_prompt: bool = True,
) -> float:  # fmt: skip
    """``prompts`` x ``per_prompt`` samples of ``new`` tokens in batches of ``batch``: the prefill (each prompt once
    when its cache is shared) at the compute rate, then every decode step at the slower of compute and memory."""
    samples = prompts * per_prompt
    prefill = forward_seconds(params, (prompts if shared_prompt else samples) * prompt, device)
    steps = math.ceil(samples / batch) * new
    rows = min(batch, samples)
    read = 4 * params + kv_cache_bytes(d, rows, prompt + new / 2, dtype)  # weights + the mean cache, each step
    per_step = max(forward_seconds(params, rows, device), read / (device.bandwidth_gbs * 1e9 * DECODE_BANDWIDTH))
    return prefill + steps * per_step


@dataclass
class StageEstimate:
    """One stage of a preset: the models it holds, its memory per process, tokens and expected time."""

    stage: str
    models: str
    parameters: int
    memory: Memory
    tokens_processed: float = 0.0
    tokens_generated: float = 0.0
    seconds: float = 0.0
    change: str = ""  # the setting that lowers its memory, named in the warning when it does not fit
    notes: list[str] = field(default_factory=list)

    def fits(self, device: Device) -> bool:
        return self.memory.total / GIB + device.runtime_gib <= device.memory_gib

    def as_dict(self) -> dict:
        out = asdict(self)
        out["memory"] = dict(asdict(self.memory), total=self.memory.total)
        return out
