"""Settings: env names, nested sections, .env support, secrets never shown."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.logging_setup import RedactingFilter
from bot.settings import LLMMode, MarketMode, Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("CRYPTOGUARD_"):
            monkeypatch.delenv(key)


def test_defaults() -> None:
    s = Settings(_env_file=None)
    assert s.market is MarketMode.AUTO and s.llm is LLMMode.AUTO
    assert s.resolved_database_url == "sqlite+aiosqlite:///data/cryptoguard.db"
    assert s.depeg.warn_pct == Decimal("0.5")


def test_the_three_deployment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRYPTOGUARD_DATABASE_URL", "postgresql+asyncpg://u:p@db/cg")
    monkeypatch.setenv("CRYPTOGUARD_MARKET", "Offline")
    monkeypatch.setenv("CRYPTOGUARD_LLM", "openai")
    s = Settings(_env_file=None)
    assert s.resolved_database_url == "postgresql+asyncpg://u:p@db/cg"
    assert s.market is MarketMode.OFFLINE and s.llm is LLMMode.OPENAI


def test_nested_sections_and_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRYPTOGUARD_TELEGRAM__TOKEN", "123456:ABCDEF-secret")
    monkeypatch.setenv("CRYPTOGUARD_OFFLINE__REPLAY", "usdc=a.csv, dai=b.csv")
    monkeypatch.setenv("CRYPTOGUARD_ADMIN_IDS", "telegram:1, discord:2")
    monkeypatch.setenv("CRYPTOGUARD_DEPEG__HIGH_PCT", "3")
    s = Settings(_env_file=None)
    assert s.telegram.token is not None
    assert s.telegram.token.get_secret_value() == "123456:ABCDEF-secret"
    assert s.offline.replay == {"USDC": Path("a.csv"), "DAI": Path("b.csv")}
    assert s.admin_ids == ["telegram:1", "discord:2"]
    assert s.depeg.high_pct == Decimal("3")


def test_secrets_never_in_repr_or_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRYPTOGUARD_OPENAI__API_KEY", "sk-very-secret-key")
    s = Settings(_env_file=None)
    assert "sk-very-secret-key" not in repr(s) and "sk-very-secret-key" not in str(s)
    assert "sk-very-secret-key" not in s.model_dump_json()
    monkeypatch.setenv("CRYPTOGUARD_MARKET", "sometimes")
    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None)
    assert "sk-very-secret-key" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CRYPTOGUARD_MARKET", "sometimes"),
        ("CRYPTOGUARD_LLM", "gpt"),
        ("CRYPTOGUARD_OFFLINE__REPLAY", "usdc"),
        ("CRYPTOGUARD_DEPEG__WARN_PCT", "9"),
        ("CRYPTOGUARD_PROVIDERS__COINGECKO_PLAN", "gold"),
    ],
)
def test_invalid_values_are_rejected(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def test_env_example_documents_every_setting_and_parses() -> None:
    example = (ROOT / ".env.example").read_text()
    documented = {
        line.split("=", 1)[0] for line in example.splitlines() if line.startswith("CRYPTOGUARD_")
    }
    expected: set[str] = set()
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            expected |= {f"CRYPTOGUARD_{name}__{sub}".upper() for sub in annotation.model_fields}
        else:
            expected.add(f"CRYPTOGUARD_{name}".upper())
    assert documented == expected
    s = Settings(_env_file=ROOT / ".env.example")
    assert s == Settings(_env_file=None)


def test_env_file_is_read(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("CRYPTOGUARD_MARKET=offline\nCRYPTOGUARD_DISCORD__TEST_GUILD_ID=42\n")
    s = Settings(_env_file=env)
    assert s.market is MarketMode.OFFLINE and s.discord.test_guild_id == 42


def test_redacting_filter_scrubs_secrets_from_log_records() -> None:
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "calling %s/bot%s/getMe",
        ("https://api", "123:SECRET"),
        None,
    )
    RedactingFilter(["123:SECRET"]).filter(record)
    assert record.getMessage() == "calling https://api/bot***/getMe"
