"""Who is calling: API keys, per-tenant rate limits, and each process's cache of a tenant's
policy, model and content catalog."""
