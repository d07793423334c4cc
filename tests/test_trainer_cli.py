"""The train / runs / probe subcommands, through an argparse parser like curate's."""

from __future__ import annotations

import argparse

import pyarrow as pa
import pytest
from trainer_fixtures import make_tiny_mlm, review_rows

from curate.store import Store
from trainer.cli import add_subcommands
from trainer.report import format_table, side_by_side


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="curate")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    return str(make_tiny_mlm(tmp_path_factory.mktemp("tiny")))


def test_train_runs_and_probe_commands(tmp_path, tiny_model, capsys):
    root = str(tmp_path / "store")
    Store(root).write("retraining", pa.table({"text": review_rows(60)}))
    probe = "Nike shoes are very [MASK]"
    common = ("--store", root, "--model", tiny_model, "--max-steps", "3", "--batch-size", "8")
    assert _cli("train", *common, "--probe", probe) == 0
    out = capsys.readouterr().out
    assert ("promoted" in out or "rejected" in out) and "before" in out and "after" in out
    assert probe in out and "target eval perplexity" in out

    assert _cli("train", "--store", root, "--model", "/no/such/model") == 1
    assert "does not exist" in capsys.readouterr().out

    assert _cli("runs", "--store", root) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["run", "status", "trigger"]
    assert [line.split()[1] for line in table[2:]][1:] == ["failed"]
    assert table[2].split()[1] in ("promoted", "rejected")

    assert _cli("probe", "--store", root, "--run", "latest", probe) == 0  # the successful one
    assert probe in capsys.readouterr().out
    failed = table[3].split()[0]
    assert _cli("probe", "--store", root, "--run", failed, probe) == 2
    assert "failed" in capsys.readouterr().err


def test_read_only_commands_on_a_mistyped_store_say_so_and_create_nothing(tmp_path, capsys):
    missing = tmp_path / "no-such-store"
    for command in (("runs",), ("probe",), ("probe", "a [MASK]"), ("train",)):
        assert _cli(command[0], "--store", str(missing), *command[1:]) == 2
        assert "no store at" in capsys.readouterr().err
    assert not missing.exists()


def test_train_on_an_empty_store_says_there_is_nothing_to_train_on(tmp_path, capsys):
    root = tmp_path / "store"
    Store(root)
    assert _cli("train", "--store", str(root)) == 2
    assert "nothing to train on" in capsys.readouterr().err
    assert not list((root / "runs").iterdir()), "no failed run is recorded"


def test_probe_latest_with_only_failed_runs_says_so(tmp_path, capsys):
    root = str(tmp_path / "store")
    Store(root).write("retraining", pa.table({"text": review_rows(20)}))
    assert _cli("train", "--store", root, "--model", "/no/such/model") == 1
    capsys.readouterr()
    assert _cli("probe", "--store", root) == 2
    assert "no promoted run" in capsys.readouterr().err


def test_probe_stored_and_live(tmp_path, tiny_model, capsys):
    root = str(tmp_path / "store")
    Store(root).write("retraining", pa.table({"text": review_rows(40)}))
    args = ("--store", root, "--model", tiny_model, "--max-steps", "2", "--probe", "a [MASK] b")
    assert _cli("train", *args) == 0
    capsys.readouterr()
    assert _cli("probe", "--store", root) == 0
    assert "a [MASK] b" in capsys.readouterr().out
    assert _cli("probe", "--store", root, "--top-k", "3", "nike {mask} are good") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "nike {mask} are good" and lines[1].split() == ["#", "before", "after"]
    assert len(lines) == 3 + 3
    assert _cli("probe", "--store", root, "--run", "run-nope") == 2


def test_tables_format_plainly():
    assert format_table([], ["a"]) == "a\n-"
    rows = [
        {"probe": "p", "stage": "after", "rank": 1, "token": "good", "score": 0.5},
        {"probe": "p", "stage": "before", "rank": 1, "token": "the", "score": 0.25},
    ]
    assert side_by_side(rows).splitlines()[3].split() == ["1", "the", "(0.250)", "good", "(0.500)"]


def test_runs_promote_and_reject_by_hand(tmp_path, tiny_model, capsys):
    root = str(tmp_path / "store")
    Store(root).write("retraining", pa.table({"text": review_rows(40)}))
    assert _cli("train", "--store", root, "--model", tiny_model, "--max-steps", "2") == 0
    Store(root).write("retraining", pa.table({"text": review_rows(40, seed=1)}))
    assert _cli("train", "--store", root, "--model", tiny_model, "--max-steps", "2") == 0
    capsys.readouterr()
    first, second = (r.run_id for r in Store(root).runs())
    assert _cli("runs", "reject", second, "--store", root, "--reason", "worse by eye") == 0
    capsys.readouterr()
    record = Store(root).run(second).record
    assert record["status"] == "rejected" and record["decision"]["reason"] == "worse by eye"
    latest = Store(root).latest_promoted()
    assert latest is None or latest.run_id == first
    assert _cli("runs", "promote", second, "--store", root) == 0
    assert f"latest promoted: {second}" in capsys.readouterr().out
    assert _cli("runs", "--store", root) == 0
    assert "retention" in capsys.readouterr().out.splitlines()[0]
    assert _cli("runs", "promote", "--store", root) == 2
    assert "needs a run id" in capsys.readouterr().err
    assert _cli("runs", "promote", "run-nope", "--store", root) == 2
    assert "no run 'run-nope'" in capsys.readouterr().err
