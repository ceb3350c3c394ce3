"""CryptoGuard settings: one pydantic-settings model, read once in the composition root.

Every setting is an environment variable with the ``CRYPTOGUARD_`` prefix (nested
sections use ``__``, e.g. ``CRYPTOGUARD_TELEGRAM__TOKEN``) or a line in ``.env``.
``.env.example`` documents each one with its default. Secrets are ``SecretStr``: their
values never appear in ``repr``, logs or error messages.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATA_DIR = Path("data")


class MarketMode(StrEnum):
    """Where market data comes from."""

    AUTO = "auto"  # live providers, falling back to the offline market with a notice
    LIVE = "live"  # live providers only (errors when unreachable)
    OFFLINE = "offline"  # the deterministic simulated market (plus CSV replays)


class LLMMode(StrEnum):
    """Which model drives the agent."""

    AUTO = "auto"  # OpenAI-compatible endpoint when configured, else the offline router
    OPENAI = "openai"  # an OpenAI-compatible chat-completions endpoint
    OFFLINE = "offline"  # the built-in offline router


class LogLevel(StrEnum):
    """Log verbosity."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class OpenAISettings(BaseModel):
    """An OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, LM Studio)."""

    api_key: SecretStr | None = None
    base_url: str | None = None
    model: str = "gpt-4o-mini"
    timeout_s: float = Field(default=60.0, gt=0)


class TelegramSettings(BaseModel):
    """The Telegram front-end (enabled when a token is set)."""

    token: SecretStr | None = None
    # Bot API server (a self-hosted telegram-bot-api server, or tests); empty = Telegram's.
    api_base_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "0.0.0.0"  # noqa: S104 - a webhook must accept outside connections
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    webhook_path: str = "telegram"
    max_concurrent_updates: int = Field(default=256, ge=1, le=4096)

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> TelegramSettings:
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError("a Telegram webhook needs a secret token (webhook_secret)")
        return self


class DiscordSettings(BaseModel):
    """The Discord front-end (enabled when a token is set)."""

    token: SecretStr | None = None
    test_guild_id: int | None = None


class ProviderSettings(BaseModel):
    """Live market data providers."""

    coingecko_api_key: SecretStr | None = None
    coingecko_plan: str = Field(default="public", pattern="^(public|demo|pro)$")
    binance_base_url: str = "https://api.binance.com"
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    quote_ttl_s: float = Field(default=60.0, ge=0)
    top_ttl_s: float = Field(default=120.0, ge=0)
    history_ttl_s: float = Field(default=900.0, ge=0)
    stablecoin_ttl_s: float = Field(default=300.0, ge=0)
    stale_after_s: float = Field(default=900.0, gt=0)
    disagreement_pct: Decimal = Field(default=Decimal("0.5"), gt=0)


class OfflineSettings(BaseModel):
    """The offline market: simulation seed and CSV scenario replays."""

    seed: int = 7
    # Comma-separated SYMBOL=path pairs, e.g. "USDC=../shared/stablecoins/usdc.csv".
    replay: Annotated[dict[str, Path], NoDecode] = Field(default_factory=dict)
    replay_speed: float = Field(default=60.0, gt=0)

    @field_validator("replay", mode="before")
    @classmethod
    def _parse_replay(cls, value: object) -> object:
        if isinstance(value, str):
            pairs: dict[str, str] = {}
            for part in filter(None, (p.strip() for p in value.split(","))):
                symbol, sep, path = part.partition("=")
                if not sep or not symbol.strip() or not path.strip():
                    raise ValueError(f"expected SYMBOL=path, got {part!r}")
                pairs[symbol.strip().upper()] = path.strip()
            return pairs
        return value


class DepegSettings(BaseModel):
    """Stablecoin peg health thresholds (percent deviation from the coin's own peg)."""

    warn_pct: Decimal = Field(default=Decimal("0.5"), gt=0)
    high_pct: Decimal = Field(default=Decimal("2"), gt=0)
    critical_pct: Decimal = Field(default=Decimal("5"), gt=0)
    persist_samples: int = Field(default=2, ge=1, le=100)
    persist_minutes: float = Field(default=0.0, ge=0, le=1440)
    major_min_supply: Decimal = Field(default=Decimal(1_000_000_000), ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> DepegSettings:
        if not self.warn_pct < self.high_pct < self.critical_pct:
            raise ValueError("depeg thresholds must satisfy warn < high < critical")
        return self


class AlertSettings(BaseModel):
    """Alert rules: caps and re-arming."""

    max_active: int = Field(default=100, ge=1, le=10_000)
    default_cooldown_s: int = Field(default=3600, ge=0, le=30 * 86400)


class DeliverySettings(BaseModel):
    """The outbox dispatcher and the outgoing webhook channel."""

    interval_s: float = Field(default=5.0, ge=0.5, le=300)
    batch_size: int = Field(default=100, ge=1, le=5000)
    max_attempts: int = Field(default=5, ge=1, le=50)
    lease_s: float = Field(default=120.0, ge=10, le=3600)
    # Messages per second per channel (each platform's own limits apply on top).
    rate_per_s: float = Field(default=25.0, gt=0, le=1000)
    webhook_secret: SecretStr | None = None


class DigestSettings(BaseModel):
    """The daily digest sweep."""

    sweep_s: float = Field(default=60.0, ge=10, le=3600)
    batch_size: int = Field(default=200, ge=1, le=5000)


class SentimentSettings(BaseModel):
    """Market sentiment from news headlines."""

    # A local transformers text-classification model directory; VADER when unset.
    model_path: Path | None = None
    # A JSON headline file used offline (and when the feeds are unreachable).
    headlines_file: Path | None = None


class AgentSettings(BaseModel):
    """The conversational agent's limits and memory."""

    recursion_limit: int = Field(default=16, ge=4, le=100)
    max_model_calls: int = Field(default=6, ge=2, le=50)
    history_exchanges: int = Field(default=10, ge=1, le=100)
    max_message_chars: int = Field(default=2000, ge=100, le=20000)
    turns_per_minute: int = Field(default=10, ge=1)
    turns_per_day: int = Field(default=500, ge=1)
    daily_token_budget: int = Field(default=200_000, ge=1000)


class Settings(BaseSettings):
    """All CryptoGuard settings.

    The three deployment-facing names are fixed: ``CRYPTOGUARD_DATABASE_URL``,
    ``CRYPTOGUARD_MARKET`` and ``CRYPTOGUARD_LLM``.
    """

    model_config = SettingsConfigDict(
        env_prefix="CRYPTOGUARD_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_ignore_empty=True,
    )

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = None
    market: MarketMode = MarketMode.AUTO
    llm: LLMMode = LLMMode.AUTO
    log_level: LogLevel = LogLevel.INFO
    admin_ids: Annotated[list[str], NoDecode] = Field(default_factory=list)
    scheduler_enabled: bool = True
    market_refresh_s: float = Field(default=60.0, ge=5)
    # How often a non-leader process tries to take over the scheduler (seconds).
    leader_poll_s: float = Field(default=15.0, ge=1, le=600)

    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    providers: ProviderSettings = Field(default_factory=ProviderSettings)
    offline: OfflineSettings = Field(default_factory=OfflineSettings)
    depeg: DepegSettings = Field(default_factory=DepegSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    sentiment: SentimentSettings = Field(default_factory=SentimentSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)

    @field_validator("market", "llm", "log_level", mode="before")
    @classmethod
    def _case_insensitive(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip()
            return (
                value.upper()
                if value.lower() in {"debug", "info", "warning", "error"}
                else value.lower()
            )
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'cryptoguard.db'}"
