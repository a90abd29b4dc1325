"""Which cells the reproduce benchmark runs: the flags' grid, and the paper set in one command."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

import reproduce  # noqa: E402
import reproduce_tables  # noqa: E402

from dppdl.errors import ConfigError  # noqa: E402


def _plan(*flags: str) -> list[reproduce.Cell]:
    return reproduce.plan(reproduce.parse_args([*flags, "--results", "/nonexistent/r.json"]))


def test_the_paper_set_is_every_cell_the_scorecard_and_tables_read() -> None:
    cells = _plan("--paper-set")
    kinds = Counter((c.model, c.n, c.setting, c.label) for c in cells)
    for model in ("mlp", "cnn"):
        for n in (4, 15):
            for method in ("centralized", "distributed", "standalone", "dppdl"):
                assert kinds[(model, n, "same-privacy", method)] == 1  # Table 5, seed 0
            for setting in ("different-privacy", "imbalanced"):
                assert kinds[(model, n, setting, "dppdl")] == 5  # Table 3, seeds 0-4
                assert kinds[(model, n, setting, "distributed")] == 5
    chain = sorted(c.setting for c in cells if c.label == "dppdl-chain")
    assert chain == sorted(reproduce.SETTINGS)
    assert {(c.model, c.n) for c in cells if c.label == "dppdl-chain"} == {("mlp", 4)}
    assert len(cells) == 2 * 2 * (4 + 2 * 5 * 2) + 3 == len({c.key for c in cells})
    # each DPPDL cell is in its model's headline schedule, the one the scorecard reads
    for c in cells:
        schedule = c.key.split("/", 5)[5]
        headline = reproduce_tables.HEADLINE[c.model]
        assert schedule == (headline if c.method == "dppdl" else headline.rpartition("/")[0])
        assert c.args.eval_every == c.args.epochs  # tested after benchmarking and at the end
    assert cells[0].model == "cnn" and cells[0].n == 15  # costliest first
    assert cells[-1].model == "mlp" and cells[-1].n == 4


def test_the_paper_set_takes_narrowing_and_schedule_flags() -> None:
    cells = _plan("--paper-set", "--models", "mlp", "--parties", "4", "--seeds", "0,1",
                  "--eval-every", "10")  # fmt: skip
    assert {(c.model, c.n) for c in cells} == {("mlp", 4)}
    assert {c.seed for c in cells} == {0, 1}
    assert {c.args.eval_every for c in cells} == {10} and {c.args.epochs for c in cells} == {90}
    quick = _plan("--paper-set", "--quick")
    assert {c.n for c in quick} == {4} and {c.model for c in quick} == {"mlp", "cnn"}
    assert {c.args.epochs for c in quick} == {2} and {c.args.local_epochs for c in quick} == {3}


def test_the_flags_grid_is_unchanged() -> None:
    cells = _plan("--models", "cnn", "--parties", "4", "--seeds", "0", "--epochs", "30",
                  "--start", "init")  # fmt: skip
    assert [(c.setting, c.method) for c in cells] == [
        ("same-privacy", m) for m in reproduce.METHODS
    ] + [(s, m) for s in ("different-privacy", "imbalanced") for m in ("distributed", "dppdl")]
    assert cells[-1].key == "cnn/p4/imbalanced/dppdl/seed0/" + reproduce_tables.HEADLINE["cnn"]
    assert {c.args.eval_every for c in cells} == {1}
    chained = _plan("--chain", "--methods", "dppdl", "--settings", "imbalanced")
    assert [c.label for c in chained] == ["dppdl-chain"]


@pytest.mark.parametrize(
    "flags",
    [
        ("--paper-set", "--settings", "imbalanced"),
        ("--paper-set", "--methods", "dppdl"),
        ("--paper-set", "--chain"),
        ("--paper-set", "--start", "pretrained"),
        ("--jobs", "0"),
    ],
)
def test_a_flag_the_run_cannot_honour_is_refused_before_any_cell(flags: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError):
        _plan(*flags)


def test_main_prints_one_line_for_a_refused_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert reproduce.main(["--paper-set", "--chain", "--results", "/nonexistent/r.json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --paper-set") and err.count("\n") == 1


def test_a_failed_cell_is_reported_and_the_others_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Prepare: cells that finish at once, except the CNN ones, which raise
    def fake_run(cell: reproduce.Cell, data: object) -> dict[str, object]:
        if cell.model == "cnn":
            raise RuntimeError("the node went away")
        return {"best": 0.9, "mean": 0.8, "fairness": None, "seconds": 1.0, "model": cell.model,
                "parties": cell.n, "setting": cell.setting, "method": cell.label,
                "seed": cell.seed}

    monkeypatch.setattr(reproduce, "run_cell", fake_run)
    monkeypatch.setattr(reproduce, "_load_data", lambda: None)
    results = tmp_path / "r.json"
    # Execute
    status = reproduce.main(["--models", "mlp,cnn", "--methods", "centralized", "--settings",
                             "same-privacy", "--results", str(results)])  # fmt: skip
    # Assert: the MLP cell saved, the CNN cell's traceback printed, a one-line error, status 1
    out, err = capsys.readouterr()
    assert status == 1
    assert list(reproduce.load_results(results)["cells"]) == [
        "mlp/p4/same-privacy/centralized/seed0/E10/L10/B20/GNone/limNone/testNone"]
    assert "FAILED cnn/p4/same-privacy/centralized" in out and "the node went away" in out
    assert err.startswith("error: 1 cell(s) failed: cnn/p4/") and err.count("\n") == 1
