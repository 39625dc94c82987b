"""Where everything lives: the Redis store and its deadline handling, the key layout (one hash
tag per tenant or customer), and the background thread helper."""
