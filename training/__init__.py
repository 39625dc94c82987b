"""Training: LightFM fitting, evaluation and export (imports suppressor, never the reverse)."""
