"""Create the tables and the bucket locally (the local runner, tests, the manage CLI); on AWS the
template does."""

from __future__ import annotations

from chalicelib.store.models import ALL_MODELS


def create_tables() -> None:
    """Create any missing table, and the bucket, named by the current settings."""
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    create_bucket()


def create_bucket() -> None:
    """The signals bucket, named by the current settings (S3 answers a repeat with an error)."""
    from chalicelib.settings import get_settings
    from chalicelib.store.signals import client

    settings = get_settings()
    existing = {bucket["Name"] for bucket in client().list_buckets().get("Buckets", [])}
    if settings.signals_bucket in existing:
        return
    # S3 wants the region named, except its first one, where naming it is an error.
    where = {} if settings.region == "us-east-1" else {"LocationConstraint": settings.region}
    client().create_bucket(
        Bucket=settings.signals_bucket, **({"CreateBucketConfiguration": where} if where else {})
    )
