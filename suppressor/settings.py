"""Runtime configuration, read once from the environment."""

from functools import lru_cache
from ipaddress import ip_network
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, IPvAnyNetwork, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the service; env prefix SUPPRESSOR_, plus REDIS_URL."""

    model_config = SettingsConfigDict(env_prefix="SUPPRESSOR_", extra="ignore", populate_by_name=True)

    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "SUPPRESSOR_REDIS_URL"))
    # a Redis Cluster: set this, or give REDIS_URL as redis+cluster://host:port (any node will do)
    redis_cluster: bool = False
    data_dir: Path = Path(".suppressor")
    host: str = "127.0.0.1"
    # `suppressor serve` processes sharing the port (about one per core; each has its own caches)
    workers: int = Field(default=1, ge=1, le=256)
    port: int = 8080
    # Redis socket timeout on the decision path; past it the decision is answered
    # in the tenant's failure mode with reason `degraded`.
    decision_deadline_ms: int = Field(default=250, ge=5)
    # every other store call of a request (ingest, customers, policy, ...): past it, 503
    store_timeout_ms: int = Field(default=5_000, ge=50)
    # asyncio connections per server process for decisions; a request waits for one within its deadline
    redis_pool_size: int = Field(default=64, ge=1, le=10_000)
    # how often a background thread pings the store. A request past its deadline keeps waiting only
    # while these pings show the store answering (then the server is merely busy, and a real verdict
    # beats a degraded one); two missed pings mark the store down: answers then come at once
    # (degraded verdicts, 503 elsewhere) until a ping succeeds. A dead embedded server is restarted.
    store_check_seconds: float = Field(default=0.05, gt=0, le=10)
    # a Redis whose maxmemory-policy may evict keys (anything but noeviction; volatile-* too: profiles and
    # ledgers carry TTLs) can silently erase consent, caps and verdicts: /readyz answers 503 on one
    # unless this accepts the risk
    accept_evicting_store: bool = False
    # the store counts as full (writes answer 503, /readyz 503) once less than this share of its
    # maxmemory is left; decisions still write until Redis itself refuses (then they degrade)
    store_memory_headroom: float = Field(default=0.05, ge=0.0, lt=1.0)
    # how often the store monitor reads the store's memory and eviction policy (INFO memory, CONFIG GET)
    store_memory_check_seconds: float = Field(default=1.0, gt=0, le=300)
    max_batch: int = Field(default=10_000, ge=1)
    max_events_per_customer: int = Field(default=2_000, ge=10)
    customer_ttl_days: int = Field(default=730, ge=1)
    # a deferred verdict due longer ago than this, and never asked again, lapses from GET /v1/deferred
    # (counted as suppressor_deferred_lapsed_total)
    deferred_lapse_seconds: int = Field(default=7 * 86_400, ge=60, le=30 * 86_400)
    decision_log_max: int = Field(default=100_000, ge=100)
    model_refresh_seconds: float = Field(default=1.0, ge=0.0)
    # where POST /v1/models/train runs training: a child process of the server ("process"), or a job on
    # the RQ queue that `suppressor worker` processes take ("queue"; several machines, retried once)
    training_runner: Literal["process", "queue"] = "process"
    # the plain Redis that holds the training queue; unset, the store (a Redis Cluster cannot: RQ needs
    # one server, so set this beside a cluster)
    queue_url: str | None = None
    models_kept: int = Field(default=3, ge=2)
    # a request body larger than this is refused (413) before it is parsed
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    # per API key, unless a tenant has its own (`suppressor keys limit`); 0 = no limit
    rate_limit_per_second: float = Field(default=0.0, ge=0.0)
    rate_limit_burst: float = Field(default=0.0, ge=0.0)
    # guards /metrics; unset, /metrics answers loopback callers only
    ops_token: str | None = None
    # after a customer is erased, the store's append-only and snapshot files are rewritten within this long
    erasure_rewrite_seconds: float = Field(default=60.0, ge=0.0)
    # the base URL providers call (scheme, host, port, path prefix) when a proxy sits in front: Twilio
    # signs the URL it called, so the service must know it; unset, the request's own URL is used
    public_url: str | None = None
    # provider webhooks: seconds a signature stays acceptable per provider (hooks/freshness.py has each
    # default), as JSON, e.g. {"mailgun": 3600}
    hook_windows: dict[str, int] = Field(default_factory=dict)
    # the largest body a provider's webhook takes, per provider (hooks/providers has each default), as JSON
    hook_body_bytes: dict[str, int] = Field(default_factory=dict)
    # per webhook endpoint (shared by every server process); 0 = no limit
    hook_rate_per_second: float = Field(default=200.0, ge=0.0)
    hook_rate_burst: float = Field(default=2000.0, ge=0.0)
    # the AWS regions whose SNS signing certificates an SES webhook may fetch, as JSON; unset, SES's regions
    ses_regions: list[str] | None = None
    # `suppressor smtp-gateway` (see docs/integrations.md, "SMTP gateway"). Client networks that
    # may relay without SMTP AUTH (JSON list of CIDRs); anyone else must authenticate or is refused (554)
    smtp_clients: list[IPvAnyNetwork] = Field(
        default_factory=lambda: [ip_network("127.0.0.0/8"), ip_network("::1/128")]
    )
    # SMTP AUTH (PLAIN, LOGIN) with this one account; over STARTTLS unless smtp_auth_without_tls
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # certificate chain and key (PEM files) for STARTTLS
    smtp_tls_cert: Path | None = None
    smtp_tls_key: Path | None = None
    # accept AUTH without TLS, from clients on private networks only (RFC 1918, fc00::/7, loopback)
    smtp_auth_without_tls: bool = False
    # a message larger than this is refused (552), announced in EHLO (SIZE) so senders refuse it first
    smtp_max_message_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # recipients per message; past it each RCPT is answered 452 (RFC 5321: the sender sends the rest later)
    smtp_max_recipients: int = Field(default=100, ge=1, le=100)
    # open connections; one more is answered 421 and closed
    smtp_max_connections: int = Field(default=100, ge=1, le=10_000)
    # open connections from one client address (Postfix opens up to 20 to one relay by default)
    smtp_max_connections_per_client: int = Field(default=20, ge=1, le=10_000)
    # a connection that sends nothing for this long is closed
    smtp_idle_timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    # a recipient no profile lists: "drop" (answered 250, not relayed, logged) or "relay" (ungoverned)
    smtp_unknown: Literal["drop", "relay"] = "drop"
    # how long a relayed recipient is remembered (per Message-ID), so a sender's retry never relays it
    # twice; longer than any sender retries (Postfix gives up after 5 days)
    smtp_remember_days: float = Field(default=7.0, gt=0, le=90)
    log_level: str = "info"
    access_log: bool = False  # one log line per request costs more than a decision


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached)."""
    return Settings()
