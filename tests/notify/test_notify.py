"""tools.notify: payloads to messages, merging per recipient, the console notifier."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.attachments import Attachment
from tools.notify import (
    ConsoleNotifier,
    DeliveryStatus,
    Notifier,
    OutgoingMessage,
    merge_messages,
    message_from_payload,
    render_plain,
    severity_rank,
)


def test_message_from_payload_loads_attachments(tmp_path: Path) -> None:
    chart = tmp_path / "btc.png"
    chart.write_bytes(b"\x89PNG fake")
    message = message_from_payload(
        {
            "kind": "alert",
            "text": "BTC is at 100,500 USD.",
            "title": "BTC above 100,000 USD",
            "severity": "HIGH",
            "attachments": [
                {
                    "path": str(chart),
                    "filename": "btc-30d.png",
                    "content_type": "image/png",
                    "caption": "30 days",
                }
            ],
            "data": {"alert_id": 7},
        },
        key="alert:7:2026-03-01T12:00:00+00:00",
    )
    assert message.kind == "alert" and message.severity == "high"
    assert message.title == "BTC above 100,000 USD"
    assert message.key == "alert:7:2026-03-01T12:00:00+00:00"
    assert message.attachments == (
        Attachment("btc-30d.png", "image/png", b"\x89PNG fake", "30 days"),
    )
    assert message.attachment_paths == (str(chart),)
    assert message.data == {"alert_id": 7}


def test_missing_attachment_gives_message_with_note(tmp_path: Path) -> None:
    message = message_from_payload(
        {
            "kind": "digest",
            "text": "Your digest.",
            "attachments": [
                {"path": str(tmp_path / "gone.png"), "filename": "chart.png"},
                {"filename": "nopath.png"},
                "not a mapping",
            ],
        }
    )
    assert message.attachments == ()
    assert message.text.startswith("Your digest.\n")
    assert "chart.png is no longer available" in message.text
    assert "nopath.png is not available" in message.text


def test_oversized_attachment_left_out(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 100)
    message = message_from_payload(
        {"text": "t", "attachments": [{"path": str(big)}]}, max_attachment_bytes=10
    )
    assert message.attachments == () and "big.bin is too large" in message.text


def test_malformed_payload_gets_defaults() -> None:
    message = message_from_payload(
        {"text": None, "title": "  ", "severity": 3, "data": [1], "attachments": "x"}
    )
    assert message == OutgoingMessage(kind="notice", text="", title=None, severity="3")


def test_merge_groups_alerts_into_one_message() -> None:
    parts = [
        OutgoingMessage("alert", "BTC is at 100,500.", "BTC above 100k", "warning", key="a:1"),
        OutgoingMessage("alert", "ETH fell 12%.", "ETH down 12%", "critical", key="a:2"),
        OutgoingMessage("alert", "SOL RSI 75.", None, "info", key="a:3"),
    ]
    merged = merge_messages(parts)
    assert merged.kind == "alert" and merged.title == "3 alerts"
    assert merged.severity == "critical"
    assert merged.text.splitlines()[0] == "3 alerts:"
    assert "1. [WARNING] BTC above 100k\nBTC is at 100,500." in merged.text
    assert "2. [CRITICAL] ETH down 12%\nETH fell 12%." in merged.text
    assert "3. [INFO] SOL RSI 75." in merged.text
    assert [item["key"] for item in merged.data["items"]] == ["a:1", "a:2", "a:3"]
    # The key is derived from the parts' keys, independent of their order.
    assert merged.key is not None and merged.key.startswith("batch:")
    assert merge_messages(parts[::-1]).key == merged.key
    assert merge_messages(parts[:2]).key != merged.key


def test_merge_mixed_kinds_caps_attachments_and_details() -> None:
    image = Attachment("c.png", "image/png", b"p")
    parts = [
        OutgoingMessage("alert", f"text {i}", f"title {i}", attachments=(image, image))
        for i in range(7)
    ] + [OutgoingMessage("depeg", "USDC at 0.97", None, "high")]
    merged = merge_messages(parts, max_attachments=3, max_detailed=2)
    assert merged.kind == "mixed" and merged.title == "8 messages"
    assert merged.severity == "high"
    assert len(merged.attachments) == 3
    assert "(11 more attachments not included.)" in merged.text
    assert "1. title 0\ntext 0" in merged.text
    assert "3. title 2" in merged.text and "text 2" not in merged.text
    assert "8. [HIGH] USDC at 0.97" in merged.text
    assert merged.key is None  # parts without keys: no dedup key can be promised


def test_merge_single_and_empty() -> None:
    only = OutgoingMessage("alert", "x", key="k")
    assert merge_messages([only]) is only
    with pytest.raises(ValueError):
        merge_messages([])


def test_severity_rank_orders_known_words() -> None:
    ranks = [severity_rank(s) for s in (None, "info", "recovered", "warning", "high", "critical")]
    assert ranks == sorted(ranks) and len(set(ranks)) == 6
    assert severity_rank("bogus") == -1


def test_render_plain() -> None:
    message = OutgoingMessage(
        "depeg",
        "USDC trades at 0.9712 USD (-2.88%).",
        "USDC depeg",
        "high",
        attachments=(Attachment("usdc.png", "image/png", b"x", "7 days"),),
        attachment_paths=("data/charts/usdc.png",),
    )
    assert render_plain(message) == (
        "[HIGH] USDC depeg\n"
        "USDC trades at 0.9712 USD (-2.88%).\n"
        "Attachments:\n"
        "  - usdc.png: data/charts/usdc.png (7 days)"
    )
    assert render_plain(OutgoingMessage("notice", "hello")) == "hello"


async def test_console_notifier_writes_and_reports() -> None:
    lines: list[str] = []
    notifier: Notifier = ConsoleNotifier(lines.append)
    result = await notifier.send("local", OutgoingMessage("alert", "BTC up", "BTC", "info"))
    assert result.status is DeliveryStatus.SENT
    assert lines == ["[INFO] BTC\nBTC up"]
    assert notifier.channel == "console"


async def test_console_notifier_failing_writer_is_transient() -> None:
    def broken(_text: str) -> None:
        raise BrokenPipeError

    result = await ConsoleNotifier(broken).send("local", OutgoingMessage("alert", "x"))
    assert result.status is DeliveryStatus.TRANSIENT
    assert "BrokenPipeError" in result.detail
