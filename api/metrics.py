"""Prometheus metrics of one app (own registry, so several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    """Counters and latency histograms exposed at /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.decisions = Counter("suppressor_decisions_total", "Verdicts given", ["action"], registry=self.registry)
        self.reasons = Counter("suppressor_decision_reasons_total", "Reasons attached to verdicts", ["code"], registry=self.registry)
        self.decision_seconds = Histogram(
            "suppressor_decision_seconds", "Time to decide one request (batch: whole call)", ["endpoint"],
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5), registry=self.registry)
        self.events = Counter("suppressor_events_total", "Events received", ["result"], registry=self.registry)
