"""An unexpected error inside a command is one line that names where, never what the data said."""

from __future__ import annotations

import argparse
import re
import types

from samdkit import cli

PATIENT = "Jane Quokkason"


def test_internal_error_withholds_the_message_and_names_the_place(monkeypatch, capsys):
    def run(_args):  # a library error whose message quotes a cell, as pandas and sklearn do
        raise ValueError(f"could not convert string to float: '{PATIENT}'")

    module = types.SimpleNamespace(run=run)
    monkeypatch.setattr(cli, "_command_parser", lambda name: (argparse.ArgumentParser(), module))
    monkeypatch.delenv("SAMDKIT_DEBUG", raising=False)
    assert cli.main(["lint"]) == cli.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert PATIENT not in err and "could not convert" not in err
    assert len(err.strip().splitlines()) == 1
    assert re.search(r"internal error: ValueError at \w+\.py:\d+ \(\w+\)", err), err
