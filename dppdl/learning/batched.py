"""Train many same-architecture models at once with functional_call + vmap over stacked params."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from dppdl.learning.sgd import TrainConfig, check_xy

Params = dict[str, torch.Tensor]


def train_local_batched(
    models: Sequence[nn.Module],
    xs: Sequence[torch.Tensor],
    ys: Sequence[torch.Tensor],
    *,
    config: TrainConfig,
    epochs: int,
    generators: Sequence[torch.Generator],
    start_steps: Sequence[int] | None = None,
) -> list[int]:
    """Same result as `train_local(models[i], xs[i], ys[i], generator=generators[i])` for each i.

    All models must share one architecture without buffers. Data sets may differ in size: each
    model draws its own permutation per epoch exactly as `train_local` does, and step s of the
    joint loop is step s of every model that still has a batch left. The models are stacked
    longest data set first, so those are a prefix of the stack and step s computes only them
    (views, no copies): one joint epoch costs sum_i ceil(|D_i| / batch_size) model-steps in
    max_i ceil(|D_i| / batch_size) vmapped steps. Returns the updates per model.

    "Same" means up to float rounding (vmapped matmuls sum in another order): after one paper
    epoch (600 steps, batch 1) 49 of 50 MLPs agreed with the looped ones to 3e-8 per weight and
    one differed by 2e-4, most likely a near-zero ReLU input that rounding sent the other way.
    """
    m = len(models)
    if not (len(xs) == len(ys) == len(generators) == m):
        raise ValueError("models, xs, ys and generators must have the same length")
    if m == 0:
        return []
    steps0 = list(start_steps) if start_steps is not None else [0] * m
    if len(steps0) != m:
        raise ValueError("start_steps must have one entry per model")
    for x, y in zip(xs, ys, strict=True):
        check_xy(x, y)
    _check_same_architecture(models)
    bs = config.batch_size
    # longest data set first (stable, so equal sizes keep their order and their rounding)
    order = sorted(range(m), key=lambda i: -int(xs[i].shape[0]))
    models = [models[i] for i in order]
    xs, ys = [xs[i] for i in order], [ys[i] for i in order]
    generators = [generators[i] for i in order]
    template = models[0]
    params = {
        name: torch.stack([dict(mod.named_parameters())[name].detach() for mod in models])
        for name, _ in template.named_parameters()
    }
    sizes = [int(x.shape[0]) for x in xs]
    batches = [-(-n // bs) for n in sizes]  # non-increasing
    live = [sum(1 for b in batches if b > s) for s in range(max(batches))]  # models at step s
    x_all, y_all = torch.cat(list(xs)), torch.cat(list(ys))
    offsets = torch.tensor([0, *sizes[:-1]]).cumsum(0)
    steps = torch.tensor([steps0[i] for i in order], dtype=torch.float64)
    counts = torch.zeros(m, dtype=torch.int64)
    per_model_grad = vmap(grad(_batch_loss(template)), in_dims=(0, 0, 0, 0))
    was_training = [mod.training for mod in models]
    template.train()
    try:
        for _ in range(epochs):
            idx, weight = _epoch_layout(sizes, offsets, bs, generators)
            for s, k in enumerate(live):
                cols = slice(s * bs, (s + 1) * bs)
                b_idx, b_w = idx[:k, cols], weight[:k, cols]
                head = {name: p[:k] for name, p in params.items()}
                grads = per_model_grad(head, x_all[b_idx], y_all[b_idx], b_w)
                lr = (config.lr / (1.0 + config.decay * steps[:k])).to(torch.float32)
                for name, g in grads.items():  # p <- p - lr_i * g_i, one fused pass
                    head[name].addcmul_(lr.view(-1, *([1] * (g.dim() - 1))), g, value=-1.0)
                steps[:k] += 1.0
                counts[:k] += 1
    finally:
        for mod, flag in zip(models, was_training, strict=True):
            mod.train(flag)
    with torch.no_grad():
        for i, mod in enumerate(models):
            for name, p in mod.named_parameters():
                p.copy_(params[name][i])
    done = [0] * m
    for j, i in enumerate(order):
        done[i] = int(counts[j])
    return done


def _check_same_architecture(models: Sequence[nn.Module]) -> None:
    ref = [(n, p.shape) for n, p in models[0].named_parameters()]
    for mod in models:
        shapes = [(n, p.shape) for n, p in mod.named_parameters()]
        if type(mod) is not type(models[0]) or shapes != ref:
            raise ValueError("train_local_batched needs models of one architecture")
        if any(True for _ in mod.buffers()):
            raise ValueError("train_local_batched does not support models with buffers")


def _batch_loss(template: nn.Module) -> Callable[..., torch.Tensor]:
    def loss(params: Params, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        ce = F.cross_entropy(functional_call(template, params, (x,)), y, reduction="none")
        return (ce * w).sum() / w.sum().clamp_min(1.0)

    return loss


def _epoch_layout(
    sizes: list[int], offsets: torch.Tensor, bs: int, generators: Sequence[torch.Generator]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per model, its permuted global row indices padded to the longest epoch, and 0/1 weights."""
    longest = max(-(-n // bs) for n in sizes) * bs
    idx = torch.zeros(len(sizes), longest, dtype=torch.int64)
    weight = torch.zeros(len(sizes), longest, dtype=torch.float32)
    for i, (n, gen) in enumerate(zip(sizes, generators, strict=True)):
        perm = torch.randperm(n, generator=gen)
        idx[i, :n] = perm + offsets[i]
        weight[i, :n] = 1.0
    return idx, weight
