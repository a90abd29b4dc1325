"""Tables, doc section and plots of benchmarks/reproduce.py: ours beside the paper's values."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from dppdl.errors import ConfigError

BEGIN, END = "<!-- BEGIN GENERATED TABLES -->", "<!-- END GENERATED TABLES -->"
SCORE_BEGIN, SCORE_END = "<!-- BEGIN GENERATED SCORECARD -->", "<!-- END GENERATED SCORECARD -->"
ALL_PARTIES = (4, 15, 30, 50)

# The paper's MNIST values (Lyu et al.), accuracy % at P4/P15/P30/P50.
PAPER_ACC: dict[str, dict[str, tuple[float, ...]]] = {
    "mlp": {
        "centralized": (91.68, 95.17, 96.28, 96.85),
        "distributed": (91.67, 95.17, 96.33, 97.35),
        "standalone": (87.39, 88.06, 88.64, 88.80),
        "dppdl/same-privacy": (90.13, 94.42, 94.88, 95.57),
        "dppdl/different-privacy": (91.92, 95.70, 95.94, 96.23),
        "dppdl/imbalanced": (90.75, 94.37, 94.75, 95.21),
    },
    "cnn": {
        "centralized": (96.58, 98.19, 98.52, 98.58),
        "distributed": (96.25, 98.04, 98.63, 98.83),
        "standalone": (93.81, 93.46, 94.04, 94.05),
        "dppdl/same-privacy": (95.93, 97.19, 97.62, 98.07),
        "dppdl/different-privacy": (95.50, 97.34, 97.84, 98.14),
        "dppdl/imbalanced": (95.23, 97.50, 97.82, 98.22),
    },
}
# Table 3 fairness (Pearson r), MNIST, per setting and method: P4/P15/P30/P50.
PAPER_FAIR: dict[str, dict[str, dict[str, tuple[float, ...]]]] = {
    "cnn": {
        "different-privacy": {
            "distributed": (-0.68, 0.20, -0.02, -0.16), "dppdl": (0.89, 0.76, 0.79, 0.75)},
        "imbalanced": {
            "distributed": (-0.97, 0.03, 0.13, 0.14), "dppdl": (0.92, 0.90, 0.75, 0.72)},
    },
    "mlp": {
        "different-privacy": {
            "distributed": (0.30, -0.15, 0.02, -0.05), "dppdl": (0.84, 0.79, 0.84, 0.67)},
        "imbalanced": {
            "distributed": (0.28, -0.07, 0.01, 0.07), "dppdl": (0.96, 0.83, 0.63, 0.57)},
    },
}
# Where the scorecard's numbers come from: Algorithm 2 from the task's initial model with the
# mean rule, the MLP for 90 collaborative epochs and the CNN for 30 (DESIGN §8 leaves the
# number open; docs/REPRODUCTION.md says why these two).
HEADLINE = {
    "mlp": "E90/L10/B100/GNone/limNone/testNone/Rmean-shared-from-init",
    "cnn": "E30/L10/B40/GNone/limNone/testNone/Rmean-shared-from-init",
}
TARGET_PARTIES = (4, 15)  # the targets; P30 and P50 are reported, not judged
ACC_BAND = 1.0  # accuracy target: the best party within this many points of the paper
SETTINGS = ("same-privacy", "different-privacy", "imbalanced")


def _group(results: dict[str, Any]) -> dict[tuple[str, int, str, str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, int, str, str, str], list[dict[str, Any]]] = {}
    for c in results["cells"].values():
        k = (c["model"], c["parties"], c["setting"], c["method"], c["schedule"])
        groups.setdefault(k, []).append(c)
    return groups


def _mean_sd(values: list[float], scale: float, digits: int, *, sign: str = "") -> str:
    m = statistics.fmean(values) * scale
    if len(values) == 1:
        return f"{m:{sign}.{digits}f}"
    return f"{m:{sign}.{digits}f} ± {statistics.stdev(values) * scale:.{digits}f}"


def tables(results: dict[str, Any]) -> str:
    """Markdown tables: per schedule, Table 5 (accuracy) and Table 3 (fairness), ours | paper."""
    groups = _group(results)
    for (model, n, setting, method, schedule), cells in list(groups.items()):
        if not method.startswith("dppdl"):  # baselines serve every rule of their schedule
            for tagged in {k[4] for k in groups if k[4].startswith(schedule + "/R")}:
                groups.setdefault((model, n, setting, method, tagged), cells)
    schedules = sorted({k[4] for k in groups})
    out: list[str] = []
    for schedule in schedules or ["(none)"]:
        out.append(f"#### Schedule `{schedule}`\n")
        out.append("Table 5, accuracy % (ours: best party, mean ± sd over seeds [seeds]; "
                   "mean-party accuracy in brackets; paper's value after the slash)\n")
        for model in ("mlp", "cnn"):
            if not any(k[0] == model and k[4] == schedule for k in groups):
                out.append(f"{model.upper()}: not run with this schedule.\n")
                continue
            out.append(f"| {model.upper()} | " + " | ".join(f"P{n}" for n in ALL_PARTIES) + " |")
            out.append("|---|" + "---|" * len(ALL_PARTIES))
            rows = [(row, paper) for row, paper in PAPER_ACC[model].items()]
            rows += [(row.replace("dppdl", "dppdl-chain"), paper) for row, paper in rows
                     if row.startswith("dppdl") and any(
                         k[0] == model and k[3] == "dppdl-chain" and k[4] == schedule
                         and k[2] == row.partition("/")[2] for k in groups)]
            for row, paper in rows:
                method, _, setting = row.partition("/")
                setting = setting or "same-privacy"
                texts: list[str] = []
                for col, n in enumerate(ALL_PARTIES):
                    got = groups.get((model, n, setting, method, schedule))
                    if not got:
                        texts.append(f"not run yet / {paper[col]:.2f}")
                        continue
                    best = _mean_sd([c["best"] for c in got], 100, 2)
                    mean = statistics.fmean(c["mean"] for c in got) * 100
                    diff = statistics.fmean(c["best"] for c in got) * 100 - paper[col]
                    texts.append(f"{best} [{len(got)}] ({mean:.2f}) / {paper[col]:.2f} "
                                 f"(Δ {diff:+.2f})")
                out.append(f"| {row} | " + " | ".join(texts) + " |")
            out.append("")
        out.append("Table 3, fairness (Pearson r of final accuracy vs contribution; mean ± sd "
                   "over seeds [seeds] / paper)\n")
        out.append("| model | setting | method | " + " | ".join(f"P{n}" for n in ALL_PARTIES)
                   + " |")
        out.append("|---|---|---|" + "---|" * len(ALL_PARTIES))
        for model in ("cnn", "mlp"):
            for setting, methods in PAPER_FAIR[model].items():
                if not any(k[0] == model and k[2] == setting and k[4] == schedule
                           for k in groups):
                    continue  # nothing of this model and setting ran with this schedule
                chain = any(k[0] == model and k[2] == setting and k[3] == "dppdl-chain"
                            and k[4] == schedule for k in groups)
                for method, paper in [*methods.items(),
                                      *([("dppdl-chain", methods["dppdl"])] if chain else [])]:
                    texts = []
                    for col, n in enumerate(ALL_PARTIES):
                        got = groups.get((model, n, setting, method, schedule), [])
                        rs = [c["fairness"] for c in got if c["fairness"] is not None]
                        if not rs:
                            texts.append(f"not run yet / {paper[col]:+.2f}")
                        else:
                            texts.append(f"{_mean_sd(rs, 1, 2, sign='+')} [{len(rs)}] / "
                                         f"{paper[col]:+.2f}")
                    out.append(f"| {model.upper()} | {setting} | {method} | "
                               + " | ".join(texts) + " |")
        out.append("")
        timing = [c for g, cs in groups.items() if g[4] == schedule for c in cs]
        if timing:
            out.append("Time per cell (s, this machine, one run each; \"restored\": standalone "
                       "models and DP-GANs came from `--prepared-cache`, not trained):\n")
            out.append("| cell | path | seconds | finished |")
            out.append("|---|---|---|---|")
            for c in sorted(timing, key=lambda c: c["finished"]):
                out.append(f"| {c['model']} P{c['parties']} {c['setting']} {c['method']} "
                           f"seed {c['seed']} | {c['path']}"
                           f"{' (restored)' if c.get('prepared_from_cache') else ''} | "
                           f"{c['seconds']:.0f} | "
                           f"{c['finished']} |")
            out.append("")
    return "\n".join(out)


def _accuracy_verdict(delta: float) -> str:
    if abs(delta) <= ACC_BAND:
        return "met"
    return "above the band" if delta > 0 else "missed"


def _fairness_verdict(r: float, paper: float) -> str:
    return "met" if round(r, 2) >= paper else "missed"  # the paper gives two decimals


def scorecard(results: dict[str, Any]) -> str:
    """DPPDL against the issue's targets, one row per (model, parties, setting).

    Numbers come from the HEADLINE schedule of each model (reference runner): the best party's
    final accuracy and Pearson r, mean ± sd over the seeds run. Accuracy is met within ACC_BAND
    points of the paper; fairness at or above the paper's value (compared at its two decimals).
    """
    groups = _group(results)
    out = ["| model | P | setting | accuracy % [seeds] | paper | Δ | accuracy target "
           "| r [seeds] | paper | fairness target |", "|---|---|---|---|---|---|---|---|---|---|"]
    met = {"accuracy": [0, 0], "fairness": [0, 0]}  # [met, judged] over TARGET_PARTIES
    for model, schedule in HEADLINE.items():
        for col, n in enumerate(ALL_PARTIES):
            if n not in TARGET_PARTIES and not any(
                k[0] == model and k[1] == n and k[4] == schedule for k in groups
            ):
                continue  # a large roster nobody ran stays out of the table
            judged = n in TARGET_PARTIES
            for setting in SETTINGS:
                paper_acc = PAPER_ACC[model][f"dppdl/{setting}"][col]
                got = groups.get((model, n, setting, "dppdl", schedule), [])
                fair = PAPER_FAIR[model].get(setting, {}).get("dppdl")
                row = [model.upper(), str(n), setting]
                if not got:
                    row += ["not run", f"{paper_acc:.2f}", "", "not run"]
                    row += ["", f"{fair[col]:+.2f}", "not run"] if fair else ["", "", ""]
                    out.append("| " + " | ".join(row) + " |")
                    continue
                best = [c["best"] for c in got]
                delta = statistics.fmean(best) * 100 - paper_acc
                verdict = _accuracy_verdict(delta)
                row += [f"{_mean_sd(best, 100, 2)} [{len(got)}]", f"{paper_acc:.2f}",
                        f"{delta:+.2f}", verdict if judged else f"({verdict})"]
                if judged:
                    met["accuracy"][0] += verdict == "met"
                    met["accuracy"][1] += 1
                rs = [c["fairness"] for c in got if c["fairness"] is not None]
                if fair and rs:
                    fv = _fairness_verdict(statistics.fmean(rs), fair[col])
                    row += [f"{_mean_sd(rs, 1, 2, sign='+')} [{len(rs)}]", f"{fair[col]:+.2f}",
                            fv if judged else f"({fv})"]
                    if judged:
                        met["fairness"][0] += fv == "met"
                        met["fairness"][1] += 1
                else:
                    row += ["", "", ""]
                out.append("| " + " | ".join(row) + " |")
    acc, fair_n = met["accuracy"], met["fairness"]
    out.append("")
    out.append(f"At P4 and P15: accuracy within {ACC_BAND:g} point of the paper in {acc[0]} of "
               f"{acc[1]} cells run, fairness at or above the paper in {fair_n[0]} of "
               f"{fair_n[1]}. P30 and P50 verdicts are in brackets: reported, not targets.")
    return "\n".join(out) + "\n"


def _replace_block(text: str, begin: str, end: str, body: str, doc: Path) -> str:
    if begin not in text or end not in text:
        raise ConfigError(f"{doc} has no {begin} ... {end} markers")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{body}\n{end}{tail}"


def write_doc(doc: Path, results: dict[str, Any]) -> None:
    """Rewrite the doc's generated tables and, where it has the markers, its scorecard."""
    text = doc.read_text() if doc.exists() else f"# Reproduction\n\n{BEGIN}\n{END}\n"
    text = _replace_block(text, BEGIN, END, tables(results), doc)
    if SCORE_BEGIN in text:
        text = _replace_block(text, SCORE_BEGIN, SCORE_END, scorecard(results), doc)
    doc.write_text(text)
    print(f"wrote tables into {doc}")


def plot_curves(results: dict[str, Any], img_dir: Path) -> list[Path]:
    """One PNG per (model, parties, schedule): best-party accuracy per epoch of every cell.

    Baselines are plotted over their epochs; DPPDL's epoch 0 is after the local pre-training,
    so it is drawn shifted by the local epochs to share the x axis (passes over local data).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    figures: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for c in results["cells"].values():
        if c["seed"] == min(x["seed"] for x in results["cells"].values()):
            figures.setdefault((c["model"], c["parties"], c["schedule"]), []).append(c)
    absorbed = set()  # untagged schedules whose baselines joined a tagged rule's figure
    for (model, n, schedule), cells in list(figures.items()):  # baselines join tagged rules
        key = (model, n, schedule.rpartition("/")[0])
        if schedule.rpartition("/")[2].startswith("R") and key in figures:
            cells.extend(c for c in figures[key] if not c["method"].startswith("dppdl"))
            absorbed.add(key)
    for (model, n, schedule), cells in figures.items():
        if (model, n, schedule) in absorbed and not any(
            c["method"].startswith("dppdl") for c in cells
        ):
            continue  # baselines only, already drawn beside DPPDL
        local = int(schedule.split("/")[1][1:])
        fig, ax = plt.subplots(figsize=(7, 4))
        for c in sorted(cells, key=lambda c: (c["method"], c["setting"])):
            ys = [100 * v for v in c["curve_best"]]
            dppdl = c["method"].startswith("dppdl")
            if dppdl:  # rounds after the local epochs; 0 = after benchmarking
                xs = [local + r for r in c.get("curve_rounds") or range(len(ys))]
            else:  # epochs, 1-based
                xs = c.get("curve_rounds") or list(range(1, len(ys) + 1))
            thinned = len(xs) > 1 and xs[-1] - xs[0] + 1 > len(ys)  # --eval-every K > 1
            ax.plot(xs, ys, "-" if dppdl else "--", marker="." if thinned else None,
                    label=f"{c['method']} ({c['setting']})")
        ax.set(xlabel="passes over local data", ylabel="best party's test accuracy %",
               title=f"{model.upper()} P{n}, {schedule}, seed {cells[0]['seed']}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        parts = schedule.split("/")
        tag = parts[0].lower() + (f"-{parts[-1][1:]}" if parts[-1].startswith("R") else "")
        path = img_dir / f"repro_{model}_p{n}_{tag}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
        print(f"plot: {path}")
    return paths


def quick_table(results: dict[str, Any], keys: list[str]) -> str:
    """The terminal table of a run: one line per cell of `keys` that the results hold."""
    rows = []
    for key in keys:
        c = results["cells"].get(key)
        if c is None:
            continue
        row = c["method"] if not c["method"].startswith("dppdl") else f"dppdl/{c['setting']}"
        paper = PAPER_ACC[c["model"]].get(row)
        col = ALL_PARTIES.index(c["parties"]) if c["parties"] in ALL_PARTIES else None
        p = f"{paper[col]:.2f}" if paper and col is not None else "-"
        r = "-" if c["fairness"] is None else f"{c['fairness']:+.2f}"
        if c["setting"] != "same-privacy" and not c["method"].startswith("dppdl"):
            p = "-"  # the paper's Table 5 baselines are on the same-privacy partition
        label = f"{c['model']} P{c['parties']} {c['method']} ({c['setting']}) seed {c['seed']}"
        rows.append((label, f"{100 * c['best']:7.2f} {100 * c['mean']:7.2f} {p:>8} {r:>6}"))
    width = max([len("cell"), *(len(label) for label, _ in rows)])
    head = f"{'cell':<{width}} {'best %':>7} {'mean %':>7} {'paper %':>8} {'r':>6}"
    return "\n".join([head, *(f"{label:<{width}} {numbers}" for label, numbers in rows)])
