"""Prometheus metrics of one app (own registry, so several apps can live in one process)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from suppressor.decisions.log import DecisionLog
from suppressor.settings import Settings
from suppressor.storage.store import Store


class _Process(Collector):
    """Read at scrape time: the decision log's backlog and losses, and the store's state."""

    def __init__(self, log: DecisionLog, store: Store):
        self.log, self.store = log, store

    def collect(self):
        yield GaugeMetricFamily(
            "suppressor_decision_log_pending",
            "Decision records accepted, not yet written (they wait in memory while the store is away)",
            value=self.log.pending,
        )
        yield CounterMetricFamily(
            "suppressor_decision_log_dropped",
            "Decision records dropped: the in-memory backlog was full during a store outage",
            value=self.log.dropped,
        )
        yield CounterMetricFamily("suppressor_decision_log_written", "Decision records written", value=self.log.written)
        yield GaugeMetricFamily(
            "suppressor_store_up", "1 while the store answers its monitor's pings", value=1.0 if self.store.up else 0.0
        )
        yield CounterMetricFamily(
            "suppressor_store_restarts", "Embedded store servers restarted after dying", value=self.store.restarts
        )
        yield GaugeMetricFamily(
            "suppressor_store_ping_seconds",
            "Round trip of the store monitor's last answered ping",
            value=self.store.ping_seconds,
        )
        memory = self.store.memory
        yield GaugeMetricFamily(
            "suppressor_store_memory_used_ratio",
            "The store's used_memory over its maxmemory (the fullest master; 0 without a maxmemory)",
            value=memory.ratio,
        )
        yield GaugeMetricFamily(
            "suppressor_store_full",
            "1 while less than the headroom of the store's maxmemory is left (writes answer 503)",
            value=1.0 if memory.full else 0.0,
        )
        yield GaugeMetricFamily(
            "suppressor_store_may_evict",
            "1 while the store's maxmemory-policy may evict keys (anything but noeviction, or unknown)",
            value=1.0 if memory.may_evict else 0.0,
        )
        policy = GaugeMetricFamily(
            "suppressor_store_eviction_policy",
            "The store's maxmemory-policy (the first evicting one of a cluster's masters), as a label",
            labels=["policy"],
        )
        policy.add_metric([memory.policy], 1.0)
        yield policy


class Metrics:
    """Counters and latency histograms exposed at /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._process: _Process | None = None
        self.decisions = Counter("suppressor_decisions_total", "Verdicts given", ["action"], registry=self.registry)
        self.replays = Counter(
            "suppressor_decision_replays_total",
            "Requests answered with a verdict that already stood for the message",
            registry=self.registry,
        )
        self.reasons = Counter(
            "suppressor_decision_reasons_total", "Reasons attached to verdicts", ["code"], registry=self.registry
        )
        self.decision_seconds = Histogram(
            "suppressor_decision_seconds",
            "Time to decide one request (batch: whole call)",
            ["endpoint"],
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
            registry=self.registry,
        )
        self.events = Counter("suppressor_events_total", "Events received", ["result"], registry=self.registry)
        self.events_rejected = Counter(
            "suppressor_event_batches_rejected_total",
            "Event batches refused whole (nothing stored), by the field at fault",
            ["field"],
            registry=self.registry,
        )
        self.dry_runs = Counter(
            "suppressor_dry_runs_total",
            "Dry-run verdicts (not counted as verdicts given)",
            ["action"],
            registry=self.registry,
        )
        self.training_jobs = Counter(
            "suppressor_training_jobs_total",
            "Training jobs this process started, by how "
            "they ended (succeeded, rejected by a quality gate, failed, crashed)",
            ["status"],
            registry=self.registry,
        )
        self.training_seconds = Histogram(
            "suppressor_training_seconds",
            "Wall time of a training job",
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
            registry=self.registry,
        )
        self.hook_events = Counter(
            "suppressor_hook_events_total",
            "Provider webhook events by outcome: accepted, "
            "duplicates, unknown (an address no profile lists), ignored, consent, "
            "unauthorized (deliveries refused)",
            ["provider", "outcome"],
            registry=self.registry,
        )
        self.deferred_lapsed = Counter(
            "suppressor_deferred_lapsed_total",
            "Deferred verdicts that lapsed unclaimed: due longer ago than deferred_lapse_seconds and never asked again",
            registry=self.registry,
        )
        self.responses = Counter(
            "suppressor_http_responses_total",
            "HTTP responses by route template and status",
            ["route", "status"],
            registry=self.registry,
        )

    def watch(self, log: DecisionLog, store: Store) -> None:
        """Expose the decision log's backlog and the store's state."""
        self._process = _Process(log, store)
        self.registry.register(self._process)

    def exposition(self) -> bytes:
        """The Prometheus text: with several workers, counters and histograms summed over all of them (the
        store and log gauges are the answering worker's own)."""
        if not os.environ.get(MULTIPROCESS):
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        if self._process is not None:
            registry.register(self._process)
        return generate_latest(registry)


MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR"


def share_across_workers(settings: Settings) -> None:
    """Make every worker's counters one set at /metrics (prometheus_client's multiprocess mode, in a fresh
    directory under the data directory); call before the workers start."""
    where = Path(settings.data_dir).resolve() / "metrics"
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    os.environ[MULTIPROCESS] = str(where)
