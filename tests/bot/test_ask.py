"""``cryptoguard ask``: one question, JSON output, batches with bad lines."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    for key in list(os.environ):
        if key.startswith("CRYPTOGUARD_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CRYPTOGUARD_MARKET", "offline")
    monkeypatch.setenv("CRYPTOGUARD_LLM", "offline")
    monkeypatch.setenv("CRYPTOGUARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def test_ask_one_question_as_json(env: Path) -> None:
    result = CliRunner().invoke(cli, ["ask", "--json", "prices for sol and avax"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["q"] == "prices for sol and avax"
    assert out["tool_calls"] == [
        {"name": "get_price", "args": {"symbols": ["SOL", "AVAX"]}, "status": "ok", "error": None}
    ]
    assert "SOL (Solana)" in out["answer"] and out["attachments"] == []


def test_ask_batch_in_order_with_fresh_threads_and_bad_lines(env: Path) -> None:
    batch = env / "q.jsonl"
    lines = [{"q": "price of ETH"}, {"q": "and SOL?"}, "not json", {"x": 1}, {"q": "hello"}]
    batch.write_text("\n".join(json.dumps(x) if isinstance(x, dict) else x for x in lines) + "\n")
    result = CliRunner().invoke(cli, ["ask", "--json", "--batch", str(batch)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["q"] for r in rows] == ["price of ETH", "and SOL?", None, None, "hello"]
    # "and SOL?" starts a fresh thread, so it has no ETH context: still a price of SOL or a question
    assert rows[0]["tool_calls"][0]["args"] == {"symbols": ["ETH"]}
    assert rows[2]["error"].startswith("line 3:") and rows[3]["error"].startswith("line 4:")
    assert rows[4]["tool_calls"] == [] and rows[4]["answer"]


def test_ask_needs_exactly_one_source(env: Path) -> None:
    result = CliRunner().invoke(cli, ["ask"])
    assert result.exit_code == 2 and "Give either a QUESTION or --batch FILE" in result.output
    result = CliRunner().invoke(cli, ["ask", "--batch", str(env / "missing.jsonl")])
    assert result.exit_code == 2 and "Cannot read" in result.output


def test_batch_users_are_forgotten_so_their_alerts_never_fire_later(env: Path) -> None:
    import sqlite3

    batch = env / "q.jsonl"
    batch.write_text(json.dumps({"q": "alert me if BTC drops below 1000"}) + "\n")
    result = CliRunner().invoke(cli, ["ask", "--json", "--batch", str(batch)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tool_calls"][0]["name"] == "create_alert"
    with sqlite3.connect(env / "data" / "cryptoguard.db") as conn:
        users = conn.execute("SELECT count(*) FROM users WHERE platform_user_id LIKE 'batch-%'")
        alerts = conn.execute("SELECT count(*) FROM alerts")
        assert (users.fetchone()[0], alerts.fetchone()[0]) == (0, 0)
