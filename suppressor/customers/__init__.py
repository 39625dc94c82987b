"""What we know of a customer: the profile, the behavior events (idempotent ingest) and erasure."""
