"""Local SGD with the paper's decayed learning rate, evaluation, and prediction."""

from __future__ import annotations

import copy
import statistics
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from dppdl.errors import ConfigError
from dppdl.learning.batched import train_local_batched
from dppdl.learning.models import flatten_params
from dppdl.learning.sgd import TrainConfig, check_xy

__all__ = [
    "TrainConfig",
    "evaluate",
    "local_update",
    "predict",
    "train_local",
    "train_local_batched",
]

EVAL_CHUNK = 512  # rows per forward pass in predict/evaluate (faster than 4096 for the CNN)


def train_local(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    config: TrainConfig,
    epochs: int,
    generator: torch.Generator,
    start_step: int = 0,
) -> int:
    """Train `model` in place for `epochs` passes over (x, y); return the number of updates.

    Each epoch draws one permutation `torch.randperm(len(x), generator=generator)` and takes
    consecutive batches of `config.batch_size` (the last may be short); the loss is the mean
    cross-entropy of the batch. `start_step` is the number of updates the model has had before,
    so the decayed learning rate continues across calls. No global RNG is used.

    Each step is p <- p - lr_t * g in one fused pass. A model with 2-d convolutions trains with
    its weights stored channels_last (faster single-example convolutions on CPU; the same
    values, rounded differently) and is handed back contiguous.
    """
    check_xy(x, y)
    params = [p for p in model.parameters() if p.requires_grad]
    n, bs = x.shape[0], config.batch_size
    step = start_step
    was_training = model.training
    convolutional = _has_conv2d(model)
    if convolutional:  # the same weights, stored channels_last for the duration
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    model.train()
    try:
        for _ in range(epochs):
            perm = torch.randperm(n, generator=generator)
            for lo in range(0, n, bs):
                idx = perm[lo : lo + bs]
                loss = F.cross_entropy(model(x[idx]), y[idx])
                grads = torch.autograd.grad(loss, params)
                lr_t = config.lr_at(step)
                with torch.no_grad():
                    for p, g in zip(params, grads, strict=True):
                        p.add_(g, alpha=-lr_t)
                step += 1
    finally:
        model.train(was_training)
        if convolutional:
            model.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
    return step - start_step


def _has_conv2d(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Predicted labels, int64 (N,); `model` is left as it was (weights, layout, mode).

    A convolutional model runs as a channels_last copy on channels_last input: the same
    labels, about twice as fast on CPU (benchmarks/learning.py, "evaluation")."""
    net, x = inference_layout(model, x)
    was_training = net.training
    net.eval()
    try:
        chunks = range(0, x.shape[0], EVAL_CHUNK)
        out = [net(x[lo : lo + EVAL_CHUNK]).argmax(dim=1) for lo in chunks]
    finally:
        net.train(was_training)
    return torch.cat(out) if out else torch.empty(0, dtype=torch.int64)


def inference_layout(model: nn.Module, x: torch.Tensor) -> tuple[nn.Module, torch.Tensor]:
    """(model, x) as predict runs them: a channels_last copy of a model with 2-d convolutions
    and channels_last images, else both unchanged."""
    if x.dim() != 4 or not _has_conv2d(model):
        return model, x
    net = copy.deepcopy(model).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return net, x.contiguous(memory_format=torch.channels_last)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy in [0, 1]."""
    check_xy(x, y)
    if x.shape[0] == 0:
        raise ValueError("cannot evaluate on an empty set")
    return float((predict(model, x) == y).to(torch.float64).mean())


def is_test_round(round: int, *, every: int, last: int) -> bool:
    """Whether a run that tests every ``every``-th round tests after ``round``.

    Those rounds and the last, so a run's final accuracy never depends on ``every``.
    """
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ConfigError(f"test every k-th round needs a positive integer k, got {every!r}")
    return round % every == 0 or round == last


Say = Callable[[str], None]  # where a long run writes its progress lines


def silent(line: str) -> None:
    """A `Say` that drops the line."""


def accuracy_summary(accuracy: Sequence[float], *, active: Sequence[bool] | None = None) -> str:
    """"best 97.10 %, mean 96.80 %" over the active entries of ``accuracy`` (all by default)."""
    kept = [a for k, a in enumerate(accuracy) if active is None or active[k]]
    return f"best {100 * max(kept):.2f} %, mean {100 * statistics.fmean(kept):.2f} %"


def local_update(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    config: TrainConfig,
    epochs: int,
    generator: torch.Generator,
    start_step: int = 0,
) -> tuple[torch.Tensor, int]:
    """Train in place and return (Δw = w_after - w_before as a flat float32 vector, updates)."""
    before = flatten_params(model)
    steps = train_local(
        model, x, y, config=config, epochs=epochs, generator=generator, start_step=start_step
    )
    return flatten_params(model) - before, steps
