"""Settings of the talentmatch CLI and service, from ``TALENTMATCH_*`` environment variables (or a ``.env`` file)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TALENTMATCH_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///data/talentmatch.db",
        description="SQLAlchemy URL of the talent database; SQLite by default, postgresql+psycopg://… when scaled.",
    )
    max_line_bytes: int = Field(
        default=1_048_576, ge=1024, description="Longest accepted line of an import file, in bytes."
    )
    vector_cache_dir: Path = Field(
        default=Path("data/vectors"),
        description="On-disk cache of dense vectors, keyed by encoder and text hash; also the jieba dictionary.",
    )
    snapshot_dir: Path = Field(
        default=Path("data/snapshots"),
        description="Where index snapshots are kept: a start loads the newest usable one (memory-mapped, shared by "
        "workers) and catches up from the change journal instead of rebuilding every index; empty: off.",
    )
    snapshot_prepare_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How long a snapshot save spends preparing the open needs' graph passes (PageRank, routes, "
        "incubator links) and the answers of their dense and concept searches (needs ranked in the last 30 days "
        "first, then the newest; within 256 MiB) so that they are saved with it: after a restart the first ranking "
        "of each finds them instead of solving a PageRank (~16 ms at 100k talents, ~0.3 s a need at 1M) and "
        "scanning every profile vector (~15 ms at 100k); 0: none.",
    )
    snapshot_poll_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How often a running API process looks for an index snapshot newer than the one it serves "
        "(saved by `talentmatch index snapshot` or another process) and moves onto it without a restart: its "
        "memory-mapped pages are shared with the other workers, where the writes applied since the start live in "
        "each process's own memory (0: only at start).",
    )
    dense_exact_below: int = Field(
        default=200_000,  # features.ann.DEFAULT_EXACT_BELOW (not imported: settings load without faiss)
        ge=1,
        description="Dense search over talent profiles (and open needs) is exact below this many vectors and HNSW "
        "(approximate) from it on; see Features → Dense.",
    )
    max_errors_shown: int = Field(default=50, ge=1, description="Import errors listed before the rest are counted.")
    encoder: str = Field(
        default="usem3-int8",  # features.dense.DEFAULT_ENCODER (not imported: settings load without the encoders)
        description="Dense encoder the service indexes talents and needs with, and the CLI's `--encoder` default: "
        "`usem3-int8` (USE-multilingual-v3 in int8), `usem3` (the same model in float32, the default before "
        "version 0.2), or `none`, which skips dense vectors (fast start-up, text and concept "
        "retrieval only). A model serves only on indices built with the encoder it was trained with.",
    )
    host: str = Field(default="127.0.0.1", description="Interface `talentmatch serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="TCP port `talentmatch serve` listens on.")
    max_body_bytes: int = Field(
        default=10_485_760,
        ge=1024,
        description="Largest accepted API request body, in bytes (bulk imports included); larger bodies get 413.",
    )
    rank_cache_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How long a need's whole ranking is reused for further pages and repeated requests (0: never); "
        "any talent or need added or erased starts afresh at once. A ranking afresh with nothing written since the "
        "need's last one still takes that one's candidates and feature rows (the same ones) and scores them anew.",
    )
    server_threads: int = Field(
        default=40,
        ge=1,
        le=1000,
        description="Worker threads of `talentmatch serve` for blocking work (rankings, database); fewer threads "
        "contend less for Python's interpreter lock, more keep slow requests from queueing the fast ones.",
    )
    rank_cache_fresh_seconds: float = Field(
        default=0.0,
        ge=0,
        description="After a talent or need is written, how long a ranking computed before the write may still be "
        "served (0: the next request ranks afresh). Under a steady stream of writes a few seconds keep the cache "
        "useful; an erasure always empties it at once.",
    )
    sync_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How often an API process applies the writes other processes (workers, hosts) made to the same "
        "store, from its change journal: they show in its rankings within this many seconds plus the time to apply "
        "them (0: off, for a single process). Also how long a pool's person links, read from the store for one card "
        "per person, are reused by rankings (0: read at every ranking); this process's merges, splits and erasures "
        "forget them at once.",
    )
    journal_keep_days: float = Field(
        default=7.0,
        ge=0,
        description="Days of the change journal `talentmatch db prune-journal` keeps (besides what the oldest index "
        "snapshot still needs): a process whose indices are older than what is left rebuilds instead of catching up.",
    )
    model_poll_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How often an API process checks the model registry's champion alias and swaps in a new "
        "champion without a restart (0: only at start and on `POST /models/reload`).",
    )
    interleave_share: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Share (0–1) of needs whose office rankings interleave the champion's and the challenger's lists "
        "(team draft) to compare the two models on recruiters' feedback; chosen per need and pair of versions by a "
        "hash, so a need's list stays the same (0: off; no challenger alias: off). See Comparing models online.",
    )
    rank_cache_entries: int = Field(
        default=512, ge=1, description="Most whole rankings the ranking cache holds (least recently used out)."
    )
    rank_cache_bytes: int = Field(
        default=64 << 20,
        ge=1 << 20,
        description="Most memory the ranking cache holds, in estimated bytes (pools and memoised pages); 64 MiB.",
    )
    graph_memo_bytes: int = Field(
        default=64 << 20,
        ge=1 << 20,
        description="Most memory the graph keeps of per-need results between writes (PPR, routes, incubator links; "
        "sized by the vocabulary: ~0.1 MB a need at 100k and at 1M talents); 64 MiB. A need whose results were "
        "dropped pays a cold PPR on its next ranking.",
    )
    key_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How long the server keeps a live API key's principal instead of reading it per request; a key "
        "revoked through the API stops at once, one revoked with the CLI within this many seconds (0: read always).",
    )
    # --- office policy at ranking time (matcher.pipeline.Policy): configuration, not a fitted constant ---
    policy_yrd_first: bool = Field(
        default=False,
        description='Programme policy "Yangtze River Delta residents first" for special-researcher posts: talents '
        "whose records state they live in the YRD rank before all others, each part in the model's order, and their "
        "reasons say the policy placed them. Off: residence is one feature the model weighs as the office's feedback "
        "did.",
    )
    conflict_evaluated_kinds: str = Field(
        default="special_researcher,incubation_project",
        description="Post kinds the office evaluates (comma-separated need kinds; empty: none): on them a talent tied "
        "to the post's enterprise within the window is removed by the conflict rule; on other kinds only its current "
        "employees are flagged internal.",
    )
    conflict_window_days: int = Field(
        default=1095,
        ge=0,
        le=36_500,
        description="How long a tie counts after it ended (a former employee's end date, any relation's end): one "
        "that ended this many days ago still does, a day more no longer.",
    )
    # --- what one enterprise may use a day (service.quotas) ---
    enterprise_daily_needs: int = Field(
        default=20, ge=0, description="New needs one enterprise may post a day (its key; the office is not counted)."
    )
    enterprise_daily_rankings: int = Field(
        default=500,
        ge=0,
        description="Ranking requests (`GET /needs/{id}/candidates`, each page) one enterprise may make a day.",
    )
    # --- enterprise match alerts (service.alerts) ---
    alerts_dispatcher: bool = Field(
        default=True, description="Run the alert dispatcher inside `talentmatch serve` (off: run it as its own worker)."
    )
    alerts_interval_seconds: float = Field(default=2.0, gt=0, description="Pause of the dispatcher between passes.")
    alerts_batch_size: int = Field(default=50, ge=1, description="Outbox messages one dispatcher pass claims.")
    alerts_lease_seconds: float = Field(
        default=120.0, gt=0, description="How long a claimed message is reserved before another dispatcher may take it."
    )
    alerts_backoff_seconds: float = Field(
        default=30.0, gt=0, description="First retry delay; doubled per attempt, with jitter (×0.5–1)."
    )
    alerts_backoff_max_seconds: float = Field(default=3600.0, gt=0, description="Longest delay between retries.")
    alerts_dead_after_seconds: float = Field(
        default=172_800.0, gt=0, description="A message undelivered this long after it was queued is dead-lettered."
    )
    alerts_http_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Total time one webhook request or SMTP send may take, connect to last byte."
    )
    alerts_webhook_allow: str = Field(
        default="",
        description="Comma-separated host names and CIDRs webhooks may reach although private (and over plain "
        "http), e.g. `hooks.corp.internal,10.20.0.0/16`; empty: public https endpoints only.",
    )
    alerts_webhook_ca_file: Path | None = Field(
        default=None,
        description="A PEM bundle of extra CAs webhooks trust (on-premise receivers with a private CA); the system's "
        "CAs are always trusted.",
    )
    alerts_dns_timeout_seconds: float = Field(
        default=2.0, gt=0, description="Time to resolve a webhook's host name, at subscription and at each send."
    )
    alerts_response_max_bytes: int = Field(
        default=4096, ge=0, description="Bytes of a webhook's answer read before the connection is closed."
    )
    alerts_workers: int = Field(default=8, ge=1, description="Deliveries one dispatcher runs at once.")
    alerts_per_receiver: int = Field(
        default=2, ge=1, description="Deliveries to one receiver (host and port) at once, so a slow one holds no more."
    )
    alerts_pass_seconds: float = Field(
        default=30.0, gt=0, description="A dispatcher pass starts no new send after this long; the rest wait a pass."
    )
    alerts_poison_attempts: int = Field(
        default=3, ge=1, description="Attempts after which a message that fails to build or send is dead-lettered."
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key that encrypts webhook secrets at rest (any long random string); unset: a key generated "
        "into `TALENTMATCH_SECRET_KEY_FILE` on first use.",
    )
    secret_key_file: Path = Field(
        default=Path("data/secret.key"), description="Where the generated key lives when `SECRET_KEY` is unset."
    )
    console_secret: SecretStr | None = Field(
        default=None,
        description="Key that signs the console's session cookies (any long random string; changing it signs "
        "everyone out); unset: derived from the sealing key (`TALENTMATCH_SECRET_KEY` or its key file).",
    )
    alerts_score_margin: float = Field(
        default=0.05, ge=0, description="A (need, talent) pair alerts again only when its score rose by more than this."
    )
    alerts_min_relevance: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="First stage of matching on arrival: text relevance (0–1) a need must reach to be scored at all.",
    )
    alerts_cap_per_need: int = Field(default=20, ge=1, description="Most talents alerted per need per day.")
    alerts_cap_per_talent: int = Field(
        default=5, ge=1, description="Most needs one talent is alerted to per day (scarce talent is not sprayed)."
    )
    alerts_posted_matches: int = Field(
        default=10, ge=1, description="Best current matches in the digest sent when a need is posted."
    )
    alerts_timezone: str = Field(
        default="Asia/Shanghai", description="Time zone of the office's days: alert caps, digests, enterprise quotas."
    )
    smtp_host: str | None = Field(default=None, description="SMTP server for e-mail alerts; unset: e-mail is retried.")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port.")
    smtp_starttls: bool = Field(default=True, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_username: str | None = Field(default=None, description="SMTP login (none: no authentication).")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_from: str = Field(default="talentmatch@localhost", description="From address of alert e-mails.")
    console_url: str = Field(
        default="http://127.0.0.1:8000", description="Base URL of the console, linked from alert e-mails and payloads."
    )

    @field_validator("alerts_webhook_allow")
    @classmethod
    def _allow_list(cls, text: str) -> str:
        if text.strip():
            from service.alerts.webhook import Allow  # the one parser of the allow list

            Allow.parse(text)
        return text

    @field_validator("conflict_evaluated_kinds")
    @classmethod
    def _known_kinds(cls, value: str) -> str:
        from features.records import NeedKind

        kinds = [k.strip() for k in value.split(",") if k.strip()]
        if bad := [k for k in kinds if k not in NeedKind.__members__]:
            raise ValueError(f"unknown need kind(s) {', '.join(bad)}; use any of {', '.join(NeedKind)}")
        return ",".join(kinds)

    @property
    def conflict_evaluated(self) -> frozenset:
        """``conflict_evaluated_kinds`` as a set of ``NeedKind``."""
        from features.records import NeedKind

        return frozenset(NeedKind(k) for k in self.conflict_evaluated_kinds.split(",") if k)

    @field_validator("encoder")
    @classmethod
    def _known_encoder(cls, name: str) -> str:
        from features.dense import check_encoder_name  # the one list of encoder names

        return check_encoder_name(name)


def get_settings() -> Settings:
    return Settings()


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a relative or absolute SQLite file so a fresh checkout just works."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and url != prefix + ":memory:":
        Path(url[len(prefix) :]).expanduser().parent.mkdir(parents=True, exist_ok=True)
