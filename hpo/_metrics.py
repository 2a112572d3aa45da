"""Prometheus metrics of a coordinator process: the one list of what hpo measures.

A leaf module: it imports nothing of hpo, so the server, the study service and storage may
all record into it. Until :func:`enable` runs (``hpo server --metrics-port N``) every
``observe_*`` call returns at once and ``prometheus_client`` is not imported.

=======================================  =========  ==========================================
metric                                   type       labels
=======================================  =========  ==========================================
hpo_rpc_calls_total                      counter    service, method, code (gRPC status name)
hpo_rpc_duration_seconds                 histogram  service, method, code
hpo_trials                               gauge      study, state (studies held in memory,
                                                    counted when scraped)
hpo_journal_append_duration_seconds      histogram  (none)
hpo_database_errors_total                counter    kind: unavailable (the call is refused
                                                    UNAVAILABLE and clients retry) or
                                                    duplicate_key
hpo_database_retries_total               counter    operation (a write hpo retried itself)
hpo_leases_expired_total                 counter    (none)
=======================================  =========  ==========================================

Besides these, the process's own CPU, memory, open files and garbage collection
(``process_*``, ``python_*``), as prometheus_client reports them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: Study name -> trial state name -> number of trials.
TrialCounts = Mapping[str, Mapping[str, int]]

# Latencies in seconds: hpo's calls take about a millisecond, a slow database seconds.
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)



class _Metrics:
    """The metric objects, in a registry of their own (not prometheus_client's global one)."""

    def __init__(self) -> None:
        import prometheus_client as prom
        from prometheus_client import gc_collector, platform_collector, process_collector

        self.registry = prom.CollectorRegistry()
        process_collector.ProcessCollector(registry=self.registry)
        platform_collector.PlatformCollector(registry=self.registry)
        gc_collector.GCCollector(registry=self.registry)
        rpc_labels = ("service", "method", "code")
        self.rpc_calls = prom.Counter(
            "hpo_rpc_calls", "gRPC calls served, by method and status code.",
            rpc_labels, registry=self.registry,
        )  # fmt: skip
        self.rpc_duration = prom.Histogram(
            "hpo_rpc_duration_seconds", "Time to serve a gRPC call, by method and status code.",
            rpc_labels, buckets=_LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.journal_append = prom.Histogram(
            "hpo_journal_append_duration_seconds",
            "Time to append a unit of work's row to its study's log and commit it.",
            buckets=_LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.database_errors = prom.Counter(
            "hpo_database_errors", "Database errors, by kind (unavailable, duplicate_key).",
            ("kind",), registry=self.registry,
        )  # fmt: skip
        self.database_retries = prom.Counter(
            "hpo_database_retries", "Writes that hpo retried itself after a conflict.",
            ("operation",), registry=self.registry,
        )  # fmt: skip
        self.leases_expired = prom.Counter(
            "hpo_leases_expired", "Running trials failed because their heartbeats stopped.",
            registry=self.registry,
        )  # fmt: skip
        self.trial_sources: list[Callable[[], TrialCounts]] = []
        self.registry.register(_TrialCollector(self.trial_sources))


class _TrialCollector:
    """``hpo_trials``: asks each registered source for its counts when Prometheus scrapes."""

    def __init__(self, sources: list[Callable[[], TrialCounts]]) -> None:
        self._sources = sources

    def describe(self) -> list[Any]:
        return []  # computed at scrape time; nothing to declare up front

    def collect(self) -> list[Any]:
        from prometheus_client.core import GaugeMetricFamily

        family = GaugeMetricFamily(
            "hpo_trials",
            "Trials by state, per study this coordinator holds in memory.",
            labels=("study", "state"),
        )
        counts: dict[str, Mapping[str, int]] = {}
        for source in list(self._sources):
            counts.update(source())  # replicas of one database agree; the last one wins
        for study, states in sorted(counts.items()):
            for state, number in sorted(states.items()):
                family.add_metric((study, state), number)
        return [family]


_metrics: _Metrics | None = None
_enable_lock = threading.Lock()


def enable() -> Any:
    """Start recording (idempotent); returns the registry that holds every hpo metric."""
    global _metrics
    with _enable_lock:
        if _metrics is None:
            _metrics = _Metrics()
        return _metrics.registry


def enabled() -> bool:
    return _metrics is not None


def observe_rpc(service: str, method: str, code: str, seconds: float) -> None:
    """One served gRPC call: its status code name (``OK``, ``NOT_FOUND``...) and duration."""
    if _metrics is None:
        return
    _metrics.rpc_calls.labels(service, method, code).inc()
    _metrics.rpc_duration.labels(service, method, code).observe(seconds)


def observe_database_error(kind: str) -> None:
    """A database error as hpo classified it: ``unavailable`` or ``duplicate_key``."""
    if _metrics is not None:
        _metrics.database_errors.labels(kind).inc()


def observe_database_retry(operation: str) -> None:
    """hpo retried a write itself (e.g. two registrations took the same version number)."""
    if _metrics is not None:
        _metrics.database_retries.labels(operation).inc()


def observe_leases_expired(count: int) -> None:
    if _metrics is not None and count:
        _metrics.leases_expired.inc(count)


def observe_journal_append(seconds: float) -> None:
    """A unit of work appended its row to a study's log and committed, in ``seconds``."""
    if _metrics is not None:
        _metrics.journal_append.observe(seconds)


def add_trial_counts(source: Callable[[], TrialCounts]) -> None:
    """Report ``source()`` as ``hpo_trials`` at each scrape (until :func:`remove_trial_counts`)."""
    if _metrics is not None:
        _metrics.trial_sources.append(source)


def remove_trial_counts(source: Callable[[], TrialCounts]) -> None:
    if _metrics is not None and source in _metrics.trial_sources:
        _metrics.trial_sources.remove(source)


@dataclass
class MetricsEndpoint:
    """The HTTP server answering ``GET /metrics`` (any path, as prometheus_client does)."""

    host: str
    port: int
    _server: Any

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve(host: str, port: int) -> MetricsEndpoint:
    """Enable metrics and serve them over plain HTTP on ``host:port``."""
    from prometheus_client import start_http_server

    try:
        server, _thread = start_http_server(port, addr=host.strip("[]"), registry=enable())
    except OSError as e:
        raise OSError(f"cannot serve metrics on {host}:{port}: {e.strerror or e}") from None
    return MetricsEndpoint(host, server.server_port, server)
