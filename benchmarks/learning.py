"""Learning benchmark: local SGD looped vs batched (4, 15, 50 parties), evaluation, DP-GAN.

Run: .venv/bin/python benchmarks/learning.py [--quick] [--models mlp,cnn] [--threads 1]
Needs MNIST (`dppdl data fetch mnist`). Prints one line per measurement and the ratio against
the baseline measured in the same run (the previous looped SGD step; evaluation of the model as
it is, in chunks of 4,096 rows, as before channels_last; the DP-GAN without DP).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import torch
import torch.nn.functional as F

from dppdl.errors import DataMissingError
from dppdl.learning.batched import train_local_batched
from dppdl.learning.data import MnistData, Setting, load_mnist, make_partition, party_tensors
from dppdl.learning.models import MODEL_NAMES, ModelName, build_model, flatten_params
from dppdl.learning.seeding import torch_generator
from dppdl.learning.sgd import TrainConfig
from dppdl.learning.train import predict, train_local


def previous_train_local(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, config: TrainConfig,
    epochs: int, generator: torch.Generator,
) -> None:  # fmt: skip
    """The looped step before 2026-12-07 night, the baseline: p.sub_(g * lr) (a temporary per
    parameter) and convolution weights in their contiguous layout."""
    params = list(model.parameters())
    model.train()
    step = 0
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0], generator=generator)
        for lo in range(0, x.shape[0], config.batch_size):
            idx = perm[lo : lo + config.batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                for p, g in zip(params, grads, strict=True):
                    p.sub_(g * config.lr_at(step))
            step += 1


def bench_local_sgd(
    data: MnistData,
    *,
    model: ModelName,
    n_parties: int,
    samples: int,
    epochs: int,
    setting: Setting = "same-privacy",
) -> tuple[float, float, float, float]:
    """(previous looped, looped, batched samples/s, max |w_looped - w_other|) for one epoch of
    each party on at most `samples` examples (imbalanced: the shards' own sizes up to that
    cap)."""
    shards = make_partition(setting=setting, n_parties=n_parties, seed=0)
    parties = [party_tensors(data, s) for s in shards]
    xs = [x[:samples] for x, _ in parties]
    ys = [y[:samples] for _, y in parties]
    cfg = TrainConfig()
    total = sum(len(y) for y in ys) * epochs

    def looped(train: Callable[..., object]) -> tuple[float, list[torch.nn.Module]]:
        nets = [build_model(model, seed=i) for i in range(n_parties)]
        gens = [torch_generator(0, i) for i in range(n_parties)]
        t0 = time.perf_counter()  # measured after a warm-up call of every path, see main()
        for net, x, y, g in zip(nets, xs, ys, gens, strict=True):
            train(net, x, y, config=cfg, epochs=epochs, generator=g)
        return time.perf_counter() - t0, nets

    t_prev, previous = looped(previous_train_local)
    t_loop, current = looped(train_local)
    batched = [build_model(model, seed=i) for i in range(n_parties)]
    gens = [torch_generator(0, i) for i in range(n_parties)]
    t0 = time.perf_counter()
    train_local_batched(batched, xs, ys, config=cfg, epochs=epochs, generators=gens)
    t_batch = time.perf_counter() - t0

    diff = max(
        float((flatten_params(a) - flatten_params(b)).abs().max())
        for a, others in zip(current, zip(previous, batched, strict=True), strict=True)
        for b in others
    )
    return total / t_prev, total / t_loop, total / t_batch, diff


def bench_evaluation(
    data: MnistData, *, model: ModelName, rows: int, reps: int
) -> tuple[float, float, float]:
    """(baseline images/s, predict images/s, share of equal labels) on the first `rows` test
    images; each is the median of `reps` runs, the two interleaved."""
    net = build_model(model, seed=0)
    x = data.test_x[:rows]

    @torch.no_grad()
    def baseline() -> torch.Tensor:  # predict before channels_last: the model as it is
        net.eval()
        return torch.cat([net(x[lo : lo + 4096]).argmax(dim=1) for lo in range(0, rows, 4096)])

    times: dict[str, list[float]] = {"baseline": [], "predict": []}
    labels = {}
    for _ in range(reps):
        for name, fn in (("baseline", baseline), ("predict", lambda: predict(net, x))):
            t0 = time.perf_counter()
            labels[name] = fn()
            times[name].append(time.perf_counter() - t0)
    same = float((labels["baseline"] == labels["predict"]).double().mean())
    base, new = (rows / statistics.median(times[k]) for k in ("baseline", "predict"))
    return base, new, same


def bench_dpgan(data: MnistData, *, n_images: int, epochs: int) -> list[tuple[str, float, float]]:
    """[(label, steps/s, ε spent)] for the DP-GAN without and with DP."""
    from dppdl.learning.dpgan import DPGANConfig, train_dpgan

    images = data.train_x[:n_images]
    rows = []
    for dp in (False, True):
        cfg = DPGANConfig(dp=dp, epochs=epochs, mean=data.mean, std=data.std)
        res = train_dpgan(images, labels=data.train_y[:n_images], config=cfg, seed=0)
        rows.append(("with DP" if dp else "no DP", res.steps / res.seconds, res.dp_epsilon_spent))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes; about half a minute")
    ap.add_argument("--models", default="mlp", help="comma-separated: mlp,cnn (default mlp)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--data-dir", type=Path, default=None, help="MNIST cache dir")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        data = load_mnist(cache_dir=args.data_dir)
    except DataMissingError as exc:
        print(f"learning benchmark: {exc}", file=sys.stderr)
        return 2
    samples = 100 if args.quick else 600
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} thread(s), batch size 1")
    print("# local SGD, 1 epoch per party; baseline = the previous looped step, in this run")
    models = [cast(ModelName, m) for m in args.models.split(",")]
    if not set(models) <= set(MODEL_NAMES):
        ap.error(f"--models takes a comma-separated subset of {','.join(MODEL_NAMES)}")
    for model in models:
        bench_local_sgd(data, model=model, n_parties=2, samples=4, epochs=1)  # warm-up (vmap init)
        per = samples if model == "mlp" else max(20, samples // 6)
        # the imbalanced P50 shards (61 to 2,997 examples, 30,000 in all): batched training
        # steps only the parties that still have data, so its cost follows the total
        cap = 200 if args.quick else (3000 if model == "mlp" else 500)
        for n, setting, most in ((4, "same-privacy", per), (15, "same-privacy", per),
                                 (50, "same-privacy", per), (50, "imbalanced", cap)):  # fmt: skip
            prev, loop, batch, diff = bench_local_sgd(
                data, model=model, n_parties=n, samples=most, epochs=1,
                setting=cast(Setting, setting),
            )  # fmt: skip
            label = f"parties={n:2d} samples/party={most:3d}" if setting == "same-privacy" \
                else f"parties={n} imbalanced, ≤{most} each"  # fmt: skip
            print(
                f"{model} {label}: previous looped {prev:6.0f}, looped {loop:6.0f} "
                f"({loop / prev:4.2f}x), batched {batch:6.0f} samples/s ({batch / prev:4.2f}x; "
                f"{batch / loop:4.2f}x looped), "
                f"max |dw| {diff:.1e}"
            )
    print("# evaluation of one model on the MNIST test set; baseline = the model as it is")
    for model in models:
        rows = 1000 if args.quick else 10_000
        base, new, same = bench_evaluation(data, model=model, rows=rows, reps=3)
        print(
            f"{model} evaluation of {rows} images: baseline {base:7.0f} images/s, predict "
            f"{new:7.0f} images/s, ratio {new / base:5.2f}x, labels equal {100 * same:.2f}%"
        )
    try:
        rows = bench_dpgan(data, n_images=256 if args.quick else 600, epochs=1 if args.quick else 3)
    except ImportError as exc:
        print(f"dp-gan: skipped ({exc})")
        return 0
    base = rows[0][1]
    for label, rate, eps in rows:
        print(
            f"dp-gan {label:7s}: {rate:7.2f} steps/s, ratio to no-DP {rate / base:5.2f}x, "
            f"ε spent {eps:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
