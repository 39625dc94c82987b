"""suppressor core: domain models, store, scoring and decisions (imports neither api nor training)."""

__version__ = "0.1.0"
