"""Preference losses under label noise: the direct-alignment family (DPO, cDPO, rDPO, IPO, SLiC) as trl settings,
and the same corrections for Bradley-Terry reward models.

A loss is named ``NAME`` or ``NAME:EPS`` (``cdpo`` and ``rdpo`` need ``EPS``, the assumed flip rate): a number in
[0, 0.5), ``measured`` (the noise setting's measured flip rate) or ``measured*F`` (that rate times F: a deliberate
misspecification, since a user never knows the true rate). This module imports no torch at the top, so configs can
check loss names before any model library loads.

With ``m`` the margin (for DPO, ``beta * (log-ratio of chosen - log-ratio of rejected)``; for a reward model,
``r(chosen) - r(rejected)``) and ``l(m) = -log sigmoid(m)``:

- DPO (Rafailov et al. 2023): ``l(m)``; BT reward model: the same.
- cDPO (Mitchell 2023, conservative / label smoothing): ``(1 - eps) l(m) + eps l(-m)``.
- rDPO (Chowdhury et al. 2024): ``((1 - eps) l(m) - eps l(-m)) / (1 - 2 eps)``, whose expectation over labels
  flipped at rate eps is the clean ``l(m)``.
- IPO (Azar et al. 2023): ``(h - 1 / (2 beta))^2`` with h the log-ratio difference, in trl averaged per completion
  token; SLiC (Zhao et al. 2023, as in Rafailov et al. 2024): ``max(0, 1 - m)``.
"""

from __future__ import annotations

from dataclasses import dataclass

LOSSES = ("dpo", "cdpo", "rdpo", "ipo", "slic")
RM_LOSSES = ("bt", "cbt", "rbt")  # Bradley-Terry, its label-smoothed and its unbiased robust form
NEEDS_EPS = ("cdpo", "rdpo", "cbt", "rbt")
# trl 1.16's "sigmoid" ignores label_smoothing, so cDPO is written with trl's own terms: since
# l(-m) = l(m) + m, cDPO(eps) = DPO + eps m and trl's robust loss at e is DPO - e / (1 - 2e) m, hence
# cDPO(eps) = (1 + 2 eps) DPO - 2 eps robust(1/4)
CDPO_ROBUST_EPS = 0.25


@dataclass(frozen=True)
class LossSpec:
    """A parsed loss name: ``name``, and for cDPO/rDPO either a fixed ``eps`` or ``measured`` times ``factor``."""

    text: str
    name: str
    eps: float | None = None
    factor: float = 1.0  # of the measured flip rate

    @property
    def measured(self) -> bool:
        return self.name in NEEDS_EPS and self.eps is None

    def resolve(self, flip_rate: float | None) -> float:
        """The flip rate this loss assumes, given the noise setting's measured one."""
        if not self.measured:
            return self.eps or 0.0
        eps = self.factor * (flip_rate or 0.0)
        if not 0.0 <= eps < 0.5:
            raise ValueError(f"losses: {self.text!r} gives eps = {eps:.3f} at a flip rate of {flip_rate:.3f}: "
                             "eps must lie in [0, 0.5)")  # fmt: skip
        return eps


def parse_loss(text: str, field: str = "losses", names=LOSSES) -> LossSpec:
    """Parse ``NAME`` / ``NAME:EPS`` / ``NAME:measured`` / ``NAME:measured*F``; a clear error names what is wrong."""
    name, _, eps = str(text).partition(":")
    if name not in names:
        robust = [n for n in names if n in NEEDS_EPS][-1]
        raise ValueError(f"{field}: unknown loss {text!r}; allowed: {', '.join(names)} (e.g. {robust}:0.1, "
                         f"{robust}:measured, {robust}:measured*0.5)")  # fmt: skip
    if name not in NEEDS_EPS:
        if eps:
            raise ValueError(f"{field}: {name} takes no eps, got {text!r}")
        return LossSpec(text, name)
    if not eps:
        raise ValueError(f"{field}: {name} needs the assumed flip rate, e.g. {name}:0.1 or {name}:measured")
    if eps.startswith("measured"):
        factor = eps.removeprefix("measured")
        if not factor:
            return LossSpec(text, name, None)
        try:
            value = float(factor.removeprefix("*")) if factor.startswith("*") else float("nan")
        except ValueError:
            value = float("nan")
        if not value > 0:
            raise ValueError(f"{field}: {text!r}: write measured*F with F > 0, e.g. {name}:measured*0.5")
        return LossSpec(text, name, None, value)
    try:
        value = float(eps)
    except ValueError:
        raise ValueError(f"{field}: {text!r}: eps must be a number in [0, 0.5) or 'measured'") from None
    if not 0.0 <= value < 0.5:
        raise ValueError(f"{field}: {text!r}: eps must lie in [0, 0.5), got {value}")
    return LossSpec(text, name, value)


def trl_loss_settings(spec: LossSpec, eps: float) -> dict:
    """trl ``DPOConfig`` settings of a loss (``loss_type``, ``loss_weights``, ``label_smoothing``) at flip rate
    ``eps`` (ignored by dpo, ipo and slic)."""
    if spec.name == "dpo":
        return dict(loss_type=["sigmoid"], loss_weights=None, label_smoothing=0.0)
    if spec.name == "ipo":
        return dict(loss_type=["ipo"], loss_weights=None, label_smoothing=0.0)
    if spec.name == "slic":
        return dict(loss_type=["hinge"], loss_weights=None, label_smoothing=0.0)
    if spec.name == "rdpo":
        return dict(loss_type=["robust"], loss_weights=None, label_smoothing=eps)
    c = eps * (1 - 2 * CDPO_ROBUST_EPS) / CDPO_ROBUST_EPS  # cDPO = (1 + c) DPO - c robust(e)
    return dict(loss_type=["sigmoid", "robust"], loss_weights=[1 + c, -c], label_smoothing=CDPO_ROBUST_EPS)


def bradley_terry_loss(margin, kind: str = "bt", eps: float = 0.0):
    """Per-pair loss of a reward model from ``margin = r(chosen) - r(rejected)`` (a tensor): ``bt``, ``cbt``
    (label-smoothed) or ``rbt`` (the unbiased robust form at flip rate ``eps``)."""
    import torch.nn.functional as F

    clean, flipped = -F.logsigmoid(margin), -F.logsigmoid(-margin)
    if kind == "bt":
        return clean
    if kind == "cbt":
        return (1 - eps) * clean + eps * flipped
    if kind == "rbt":
        return ((1 - eps) * clean - eps * flipped) / (1 - 2 * eps)
    raise ValueError(f"rm_loss: unknown kind {kind!r}; allowed: {', '.join(RM_LOSSES)}")
