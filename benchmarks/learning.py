"""Learning benchmark: local SGD looped vs batched (4 and 50 parties), evaluation, DP-GAN steps/s.

Run: .venv/bin/python benchmarks/learning.py [--quick] [--models mlp,cnn] [--threads 1]
Needs MNIST (`dppdl data fetch mnist`). Prints one line per measurement and the ratio against
the baseline measured in the same run (looped training; evaluation of the model as it is, in
chunks of 4,096 rows, as before channels_last; the DP-GAN without DP).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import cast

import torch

from dppdl.errors import DataMissingError
from dppdl.learning.batched import train_local_batched
from dppdl.learning.data import MnistData, Setting, load_mnist, make_partition, party_tensors
from dppdl.learning.models import MODEL_NAMES, ModelName, build_model, flatten_params
from dppdl.learning.seeding import torch_generator
from dppdl.learning.sgd import TrainConfig
from dppdl.learning.train import predict, train_local


def bench_local_sgd(
    data: MnistData,
    *,
    model: ModelName,
    n_parties: int,
    samples: int,
    epochs: int,
    setting: Setting = "same-privacy",
) -> tuple[float, float, float]:
    """(looped samples/s, batched samples/s, max |w_looped - w_batched|); at most `samples`
    examples per party (imbalanced: the shards' own sizes up to that cap)."""
    shards = make_partition(setting=setting, n_parties=n_parties, seed=0)
    parties = [party_tensors(data, s) for s in shards]
    xs = [x[:samples] for x, _ in parties]
    ys = [y[:samples] for _, y in parties]
    cfg = TrainConfig()
    total = sum(len(y) for y in ys) * epochs

    looped = [build_model(model, seed=i) for i in range(n_parties)]
    gens = [torch_generator(0, i) for i in range(n_parties)]
    t0 = time.perf_counter()  # measured after a warm-up call of both paths, see main()
    for net, x, y, g in zip(looped, xs, ys, gens, strict=True):
        train_local(net, x, y, config=cfg, epochs=epochs, generator=g)
    t_loop = time.perf_counter() - t0

    batched = [build_model(model, seed=i) for i in range(n_parties)]
    gens = [torch_generator(0, i) for i in range(n_parties)]
    t0 = time.perf_counter()
    train_local_batched(batched, xs, ys, config=cfg, epochs=epochs, generators=gens)
    t_batch = time.perf_counter() - t0

    diff = max(
        float((flatten_params(a) - flatten_params(b)).abs().max())
        for a, b in zip(looped, batched, strict=True)
    )
    return total / t_loop, total / t_batch, diff


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
    print("# local SGD, 1 epoch per party; baseline = looped train_local over parties")
    models = [cast(ModelName, m) for m in args.models.split(",")]
    if not set(models) <= set(MODEL_NAMES):
        ap.error(f"--models takes a comma-separated subset of {','.join(MODEL_NAMES)}")
    for model in models:
        bench_local_sgd(data, model=model, n_parties=2, samples=4, epochs=1)  # warm-up (vmap init)
        for n in (4, 50):
            per = samples if model == "mlp" else max(20, samples // 6)
            loop, batch, diff = bench_local_sgd(
                data, model=model, n_parties=n, samples=per, epochs=1
            )
            print(
                f"{model} parties={n:2d} samples/party={per:3d}: looped {loop:8.0f} samples/s, "
                f"batched {batch:8.0f} samples/s, ratio batched/looped {batch / loop:5.2f}x, "
                f"max |dw| {diff:.1e}"
            )
        # the imbalanced P50 shards (61 to 2,997 examples, 30,000 in all): batched training
        # steps only the parties that still have data, so its cost follows the total
        cap = 200 if args.quick else (3000 if model == "mlp" else 500)
        loop, batch, diff = bench_local_sgd(
            data, model=model, n_parties=50, samples=cap, epochs=1, setting="imbalanced"
        )
        print(
            f"{model} parties=50 imbalanced, ≤{cap} each: looped {loop:8.0f} samples/s, "
            f"batched {batch:8.0f} samples/s, ratio batched/looped {batch / loop:5.2f}x, "
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
