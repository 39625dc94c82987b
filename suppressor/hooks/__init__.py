"""Provider webhooks in: verify a provider's signature on the raw body, map its events to ours,
find the customer by the address it names, store them idempotently (see inbound.py)."""
