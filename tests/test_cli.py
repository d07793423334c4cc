"""The ``curate`` command line: plugins, read-only commands, ``profile --help``."""

from __future__ import annotations

import json

import pandas as pd

from curate import Framework, Signal
from curate.cli import build_parser, main


def test_subcommands_of_the_upper_layers_are_plugins():
    choices = build_parser()._subparsers._group_actions[0].choices
    assert {"stats", "profile", "train", "runs", "probe", "dashboard"} <= set(choices)


def test_profile_help_reaches_the_profile_parser(capsys):
    try:
        main(["profile", "--help"])
    except SystemExit as exc:
        assert exc.code == 0
    assert "--out" in capsys.readouterr().out


def test_profile_builds_a_profile(tmp_path, capsys):
    data = tmp_path / "ref.csv"
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]}).to_csv(data, index=False)
    assert main(["profile", str(data), "--out", str(tmp_path / "ref.profile")]) == 0
    assert (tmp_path / "ref.profile").exists()


def test_stats_on_a_missing_store_fails_and_creates_nothing(tmp_path, capsys):
    missing = tmp_path / "typo"
    assert main(["stats", "--store", str(missing)]) == 1
    assert "no store at" in capsys.readouterr().err
    assert not missing.exists()


def test_stats_reports_what_framework_stats_reports(tmp_path, capsys):
    root = tmp_path / "store"
    cfg = {"checks": [{"type": "edge_case", "signal_formulae": Signal.contains("nike")}],
           "retraining_folder": root}  # fmt: skip
    with Framework(cfg) as fw:
        fw.log(inputs={"text": ["nike a", "b", "nike c"]})
        stats = fw.stats()
    assert main(["stats", "--store", str(root)]) == 0
    printed = json.loads(capsys.readouterr().out)
    shared = set(stats) - {"retrain_after", "last_error"}
    assert shared <= set(printed)
    assert {k: printed[k] for k in shared} == {k: stats[k] for k in shared}
    assert printed["edge_cases"] == 2 and printed["rows_logged"] == 3


def test_runs_registry_is_iterable(tmp_path):
    with Framework({"retraining_folder": tmp_path / "s", "on_retrain": lambda run: None}) as fw:
        run = fw.retrain(wait=True)
        assert [r.run_id for r in fw.runs] == [run.run_id] and len(fw.runs) == 1
