"""Create the tables locally (the local runner, tests, the manage CLI); on AWS the template does."""

from __future__ import annotations

from chalicelib.store.models import ALL_MODELS


def create_tables() -> None:
    """Create any missing table, named by the current settings."""
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
