"""Compact plain-text rendering of a :class:`SentimentReport`, for chat answers and the agent.

The notice (offline or cached headlines) comes first, then the verdict, the driving
headlines, the Fear & Greed context and the provenance, so a reader (a person or a model)
never takes a sample for live news. Plain text only: front-ends escape it as they need.
"""

from __future__ import annotations

from tools.analysis.sentiment import NewsOrigin, ScoredHeadline, SentimentReport
from tools.market.format import format_age

_TITLE_CHARS = 110


def sentiment_text(report: SentimentReport, *, show_links: bool = False) -> str:
    """Render a sentiment report in a few lines.

    Example::

        Bitcoin (BTC) news sentiment: bearish (-0.18), 14 headlines (5 up, 6 down, 3 flat)
        Pulling up: +0.34 "Bitcoin rebounds 5% as short sellers are squeezed" (CoinDesk, 2 h)
        Pulling down: -0.77 "Bitcoin's funding rates turn negative..." (Decrypt, 22 h)
        Fear & Greed (market-wide): 40, Fear (2025-03-01)
        Method: VADER lexicon; live: CoinDesk, Cointelegraph; last 48 h, recent weigh more

    Args:
        report: The report.
        show_links: Add each driving headline's link on its own line.

    Returns:
        Plain text.
    """
    lines: list[str] = []
    if report.notice:
        lines.append(report.notice)
    if report.score is None or report.label is None:
        lines.append(report.message or f"No sentiment score for {report.subject}.")
    else:
        lines.append(
            f"{_capitalised(report.subject)} news sentiment: {report.label.value} "
            f"({report.score:+.2f}), "
            f"{_count(report.headlines_used)} ({report.positive} up, {report.negative} down, "
            f"{report.neutral} flat)"
        )
        for prefix, items in (
            ("Pulling up", report.top_positive),
            ("Pulling down", report.top_negative),
        ):
            for item in items:
                lines.append(f"{prefix}: {_headline(item, report)}")
                if show_links and item.headline.url:
                    lines.append(f"  {item.headline.url}")
    fear_greed = report.fear_greed
    if fear_greed is not None:
        lines.append(
            f"Fear & Greed (market-wide, {fear_greed.source}): {fear_greed.value}, "
            f"{fear_greed.classification} ({fear_greed.timestamp:%Y-%m-%d})"
        )
    lines.append(_provenance(report))
    lines.extend(report.notes)
    return "\n".join(lines)


def method_label(method: str) -> str:
    """``"vader"`` -> ``"VADER lexicon"``, ``"transformers:finbert"`` -> ``"model finbert"``."""
    if method == "vader":
        return "VADER lexicon"
    if method.startswith("transformers:"):
        return f"model {method.split(':', 1)[1]}"
    return method


def _headline(item: ScoredHeadline, report: SentimentReport) -> str:
    title = item.headline.title
    if len(title) > _TITLE_CHARS:
        title = title[: _TITLE_CHARS - 3].rsplit(" ", 1)[0].rstrip(" ,.;:") + "..."
    when = format_age(item.age_hours * 3600)
    if report.origin is NewsOrigin.OFFLINE and item.headline.published is not None:
        when = f"{item.headline.published:%Y-%m-%d %H:%M} UTC"
    return f'{item.score:+.2f} "{title}" ({item.headline.source}, {when})'


def _provenance(report: SentimentReport) -> str:
    hours = (report.window_end - report.window_start).total_seconds() / 3600
    origin = report.origin.value
    sources = ", ".join(report.sources) or "none"
    window = f"last {hours:g} h"
    if report.origin is NewsOrigin.OFFLINE:
        window = f"{hours:g} h up to {report.window_end:%Y-%m-%d %H:%M} UTC"
    return (
        f"Method: {method_label(report.method)}; {origin}: {sources}; "
        f"{window}, recent headlines weigh more"
    )


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _count(n: int) -> str:
    return f"{n} headline" if n == 1 else f"{n} headlines"
