"""The options every search takes: why it is run (checked first, then audited)."""

from __future__ import annotations

import argparse
import os


def reason_arguments(p: argparse.ArgumentParser) -> None:
    """Why the search is run: checked before anything else and written to the audit log."""
    env = os.environ
    p.add_argument(
        "--purpose",
        default=env.get("MOBILEID_PURPOSE"),
        help="a purpose configured in DATA_DIR/purposes.json (its legal authority is recorded);"
        " default $MOBILEID_PURPOSE",
    )
    p.add_argument(
        "--case",
        default=env.get("MOBILEID_CASE"),
        help="case or incident number; default $MOBILEID_CASE",
    )
    p.add_argument("--location", default=env.get("MOBILEID_LOCATION"), help="where (optional)")
    token_argument(p)


def token_argument(p: argparse.ArgumentParser) -> None:
    """Who: an operator's API token (needed once the deployment has operators)."""
    p.add_argument(
        "--token",
        default=os.environ.get("MOBILEID_TOKEN"),
        help="operator API token (mobileid operators token); default $MOBILEID_TOKEN",
    )
