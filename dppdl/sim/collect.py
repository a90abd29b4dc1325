"""Assemble run.json from the agents' result files and the chain's events."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from dppdl.chain.clients import DppdlClient
from dppdl.party.config import PartyConfig
from dppdl.protocol.fairness import fairness_or_none
from dppdl.sim.config import SimulationConfig


def _events(client: DppdlClient, name: str, task_id: int) -> list[Any]:
    event = getattr(client.contract.events, name)
    return list(event.get_logs(argument_filters={"taskId": task_id}, from_block=0))


def _summed(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    """JSON-RPC tallies (see dppdl.chain.rpc_stats) added over parties, largest first."""
    total: Counter[str] = Counter()
    for c in counts:
        total.update(c)
    return dict(total.most_common())


def _per_phase(rows: list[dict[str, dict[str, Any]]], *, digits: int | None = None
               ) -> dict[str, dict[str, Any]]:  # fmt: skip
    """{phase: {key: value}} of each party, added over parties."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        for phase, values in row.items():
            into = out.setdefault(phase, {})
            for key, value in values.items():
                into[key] = into.get(key, 0) + value
    if digits is not None:
        out = {p: {k: round(v, digits) for k, v in vs.items()} for p, vs in out.items()}
    return out


def assemble_run(*, config: SimulationConfig, run_id: str, client: DppdlClient, task_id: int,
                 party_configs: list[PartyConfig], wall_seconds: float,
) -> dict[str, Any]:  # fmt: skip
    results = []
    for pc in party_configs:
        path = pc.state_dir / f"task-{task_id}" / "result.json"
        results.append(json.loads(path.read_text()))
    results.sort(key=lambda r: r["shard_index"])
    by_roster = {r["roster_index"]: r["shard_index"] for r in results}
    by_address = {r["address"]: r["shard_index"] for r in results}
    n, rounds = len(results), config.epochs + 1

    removals = [
        {
            "party": by_address[e["args"]["party"]],
            "epoch": int(e["args"]["epoch"]),
            "block": e["blockNumber"],
        }
        for e in _events(client, "PartyRemoved", task_id)
    ]
    disputes = [
        {
            "request_id": int(e["args"]["requestId"]),
            "block": e["blockNumber"],
            **{
                k: (v.hex() if isinstance(v, bytes) else v)
                for k, v in e["args"].items()
                if k not in ("taskId", "requestId")
            },
        }
        for e in _events(client, "DisputeSettled", task_id)
    ]

    def per_round(key: str, r: dict[str, Any], fill: Any) -> list[Any]:
        values = r[key]
        out, last = [], fill
        for t in range(rounds):
            last = values.get(str(t), last)
            out.append(last)
        return out

    credibility = []
    for t in range(rounds):
        matrix = np.zeros((n, n))
        for r in results:
            row = r["credibility"].get(str(t))
            if row is not None:
                for j, value in enumerate(row):
                    matrix[r["shard_index"], by_roster[j]] = value
        credibility.append(matrix.round(6).tolist())
    kept = [r for r in results if not r["removed"]]
    contribution = "n_examples" if config.setting == "imbalanced" else "privacy_level"
    finals = [per_round("accuracy", r, 0.0)[-1] for r in kept]
    r_value = (
        fairness_or_none(contributions=[float(r[contribution]) for r in kept], accuracies=finals)
        if len(kept) >= 2
        else None
    )
    kinds = ("training", "dpgan", "crypto", "storage", "chain", "waiting")
    return {
        "id": run_id,
        "config": {
            **{
                k: (
                    str(v)
                    if not isinstance(v, int | float | str | bool | type(None) | list | tuple)
                    else v
                )
                for k, v in vars(config).items()
                if k not in ("gan", "train", "windows", "collab")
            },
            "gan": vars(config.gan),
            "train": vars(config.train),
            "collab": vars(config.collab),
            "windows": vars(config.task_windows()),
        },
        "task_id": task_id,
        "parties": [
            {
                "index": r["shard_index"],
                "address": r["address"],
                "roster_index": r["roster_index"],
                "privacy_level": r["privacy_level"],
                "n_examples": r["n_examples"],
                "behaviour": r["behaviour"],
                "dp_epsilon_spent": r["dp_epsilon_spent"],
                "prepared_from_cache": r.get("prepared_from_cache", False),
                "missed_uploads": r["missed_uploads"],
                "final_params_sha256": r["final_params_sha256"],
            }
            for r in results
        ],
        "accuracy": [per_round("accuracy", r, 0.0) for r in results],
        "credibility": credibility,
        "points": [[per_round("points", r, 0)[t] for r in results] for t in range(rounds)],
        "removals": removals,
        "disputes": disputes,
        "fairness": {"contribution": contribution, "r": r_value},
        "gas": [[r["gas"].get(str(t), 0) for t in range(rounds)] for r in results],
        "transactions": [
            [r["transactions"].get(str(t), 0) for t in range(rounds)] for r in results
        ],
        "bytes_stored": sum(r["bytes_stored"] for r in results),
        "rpc": _summed(r.get("rpc", {}) for r in results),
        # per chain phase ("setup", "0" benchmarking, "t" epoch t), summed over parties
        "phase_timings": _per_phase([r.get("phase_seconds", {}) for r in results], digits=3),
        "phase_rpc": _per_phase([r.get("phase_rpc", {}) for r in results]),
        "phase_cpu_timings": _per_phase(
            [r.get("phase_cpu_seconds", {}) for r in results], digits=3
        ),
        "timings": {k: round(sum(r["seconds"].get(k, 0.0) for r in results), 3) for k in kinds},
        "timings_per_party": [
            {k: round(r["seconds"].get(k, 0.0), 3) for k in kinds} for r in results
        ],
        "wall_seconds": round(wall_seconds, 1),
    }
