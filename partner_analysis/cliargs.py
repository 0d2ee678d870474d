"""Argument helpers shared by the ``partner-analysis`` verbs of every area (``cli.py`` and the area CLIs)."""
from __future__ import annotations

import argparse

__all__ = ["add_action_group", "add_store_args"]


def add_action_group(subparsers, name: str, *, dest: str, help: str, description: str):
    """Add verb ``name`` whose sub-verbs (ACTION) are required; return their sub-parsers."""
    parent = subparsers.add_parser(name, help=help, description=description)
    actions = parent.add_subparsers(dest=dest, metavar="ACTION")
    actions.required = True
    return actions


def add_store_args(p: argparse.ArgumentParser, *,
                   data_dir_help: str = "DATA_DIR whose records/records.sqlite to use when --db is not given") -> None:
    """Add ``--db`` and ``--data-dir``, resolved by :func:`partner_analysis.store.resolve_db_url`."""
    p.add_argument("--db", default=None, help="records store URL or SQLite path (default: $PA_DB_URL, "
                                              "DATA_DIR/records/records.sqlite, ./partner_analysis.sqlite)")
    p.add_argument("--data-dir", default=None, help=data_dir_help)
