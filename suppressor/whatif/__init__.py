"""What a policy would have done: the logged history, its replay through the production script,
the estimates and reports built on it (simulate, trade-off curves) and the holdout lift."""
