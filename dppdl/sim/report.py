"""Read a run directory's run.json, print its summary table and draw its PNG plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dppdl.errors import UserError

RUN_FILE = "run.json"


def load_run(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"no {RUN_FILE} in {run_dir}; is it a run directory?") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON: {exc}") from None


def summary_table(run: dict[str, Any]) -> str:
    """One row per party: contribution, points, first/final accuracy, status; then the totals."""
    parties = run["parties"]
    acc = run["accuracy"]  # acc[party][epoch], epoch 0 = standalone (after pretraining)
    points = run.get("points", [])
    removed = {r["party"]: r["epoch"] for r in run.get("removals", [])}
    header = (f"{'party':>5} {'examples':>8} {'privacy':>7} {'points':>10} {'standalone':>10} "
              f"{'final':>7}  status")
    lines = [header, "-" * len(header)]
    for p in parties:
        i = p["index"]
        final_points = points[-1][i] if points else 0
        status = f"removed (epoch {removed[i]})" if i in removed else p.get("behaviour", "honest")
        lines.append(
            f"{i:>5} {p['n_examples']:>8} {p['privacy_level']:>7.3f} {final_points:>10} "
            f"{100 * acc[i][0]:>9.2f}% {100 * acc[i][-1]:>6.2f}%  {status}"
        )
    fair = run.get("fairness", {})
    lines.append("")
    best = max(acc[p["index"]][-1] for p in parties if p["index"] not in removed)
    r = fair.get("r")
    r_text = "undefined (equal contributions)" if r is None else f"{r:.3f}"
    lines.append(
        f"best party accuracy: {100 * best:.2f}%   fairness r "
        f"({fair.get('contribution', '?')} vs final accuracy): {r_text}"
    )
    timings = run.get("timings")
    if timings:
        total = sum(timings.values()) or 1.0
        split = ", ".join(f"{k} {v:.1f}s ({100 * v / total:.0f}%)" for k, v in timings.items())
        lines.append(f"agent time (summed over parties): {split}")
    restored = sum(1 for p in parties if p.get("prepared_from_cache"))
    if restored:
        lines.append(f"standalone models and DP-GANs: {restored} of {len(parties)} restored from "
                     "the prepared cache (their training time is not in the split above)")
    if "wall_seconds" in run:
        lines.append(f"wall time: {run['wall_seconds']:.0f} s")
    if "transactions" in run:
        tx = sum(sum(row) for row in run["transactions"])
        gas = sum(sum(row) for row in run.get("gas", []))
        lines.append(
            f"chain: {tx} transactions, {gas:,} gas; blobs stored: "
            f"{run.get('bytes_stored', 0):,} bytes"
        )
    return "\n".join(lines)


def plot_run(run: dict[str, Any], out_dir: Path) -> list[Path]:
    """Draw accuracy per party per epoch, the last credibility heatmap, contribution vs accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    parties = run["parties"]
    acc = run["accuracy"]

    fig, ax = plt.subplots(figsize=(6, 4))
    for p in parties:
        ax.plot(
            range(len(acc[p["index"]])),
            [100 * a for a in acc[p["index"]]],
            marker="o",
            label=f"party {p['index']} (ε={p['privacy_level']:.2f}, |D|={p['n_examples']})",
        )
    ax.set_xlabel("epoch (0 = standalone)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy per party")
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(out_dir / "accuracy.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    cred = run.get("credibility") or []
    if cred:
        fig, ax = plt.subplots(figsize=(4.5, 4))
        im = ax.imshow(cred[-1], cmap="viridis", vmin=0)
        ax.set_xlabel("party j (credibility held for)")
        ax.set_ylabel("party i (holder)")
        ax.set_title(f"Credibility c_i^j, epoch {len(cred) - 1}")
        fig.colorbar(im, ax=ax)
        fig.tight_layout()
        paths.append(out_dir / "credibility.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)

    fair = run.get("fairness", {})
    key = "privacy_level" if fair.get("contribution") == "privacy_level" else "n_examples"
    fig, ax = plt.subplots(figsize=(5, 4))
    xs = [p[key] for p in parties]
    ys = [100 * acc[p["index"]][-1] for p in parties]
    ax.scatter(xs, ys)
    for p, x, y in zip(parties, xs, ys, strict=True):
        ax.annotate(str(p["index"]), (x, y), textcoords="offset points", xytext=(4, 4))
    ax.set_xlabel(key.replace("_", " "))
    ax.set_ylabel("final test accuracy (%)")
    r = fair.get("r")
    ax.set_title("Contribution vs accuracy, r = " + ("n/a" if r is None else f"{r:.3f}"))
    fig.tight_layout()
    paths.append(out_dir / "fairness.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths
