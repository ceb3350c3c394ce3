"""The digest as plain text: title, summary paragraph, sections, notes and data notice.

No Markdown or HTML (front-ends format). The frame and the summary come from templates
in ``prompts/templates`` (``digest_title``, ``digest_summary``, and for a language model
``digest_summary_prompt`` with ``digest_audience_user`` or ``digest_audience_group``).
The market sections are rendered once per sweep (:func:`market_sections`); per user only
the personal sections and the summary are formatted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

import prompts
from tools.digest.build import NearAlert, PersonalDigest, PortfolioLine
from tools.digest.shared import SharedDigest, StablecoinLine
from tools.market.format import format_money, format_pct, format_price
from tools.market.types import Quote
from tools.portfolio.amounts import format_cash

__all__ = [
    "MAX_SUMMARY_CHARS",
    "MarketText",
    "compose",
    "market_text",
    "personal_sections",
    "summary_prompt",
    "templated_summary",
    "tidy_summary",
    "title",
]

#: Longest summary paragraph kept from a language model.
MAX_SUMMARY_CHARS = 700
#: Portfolios listed one by one (the total covers them all).
MAX_PORTFOLIOS = 10
_SYMBOL_NAMES = {"BTC": "btc", "ETH": "eth"}


@dataclass(frozen=True, slots=True)
class MarketText:
    """The shared sections rendered once: market and stablecoin blocks, notes, notice."""

    sections: tuple[str, ...]
    notes: tuple[str, ...]
    notice: str | None


@lru_cache(maxsize=32)
def title(day: date) -> str:
    """``CryptoGuard daily digest, Sunday 30 March 2025``."""
    return prompts.render("digest_title", date=f"{day:%A} {day.day} {day:%B %Y}")


def market_text(shared: SharedDigest) -> MarketText:
    """Render the shared sections (once per sweep)."""
    lines = ["Market"]
    lines += [_major_line(q) for q in shared.majors] or ["BTC and ETH prices are unavailable."]
    if shared.gainers:
        lines.append("Top gainers (top 100): " + _movers(shared.gainers))
    if shared.losers:
        lines.append("Top losers (top 100): " + _movers(shared.losers))
    sections = ["\n".join(lines)]
    stable = _stablecoin_section(shared)
    if stable:
        sections.append(stable)
    return MarketText(tuple(sections), shared.notes, shared.notice)


def personal_sections(personal: PersonalDigest, tz: ZoneInfo) -> list[str]:
    """The user's portfolio and alert sections."""
    return [_portfolio_section(personal.portfolios), _alert_section(personal, tz)]


def compose(
    head: str,
    summary: str,
    market: MarketText,
    personal: Sequence[str] = (),
    *,
    notice: str | None = None,
) -> str:
    """The whole digest: title, data notice, summary, sections, notes.

    ``notice`` stands in for the market's data notice when that is empty (a personal
    price was simulated or replayed while the shared ones were live).
    """
    parts = [head]
    if market.notice or notice:
        parts.append(market.notice or notice or "")
    if summary:
        parts.append(summary)
    parts += list(market.sections)
    parts += [s for s in personal if s]
    if market.notes:
        parts.append("\n".join(f"Note: {n}" for n in market.notes))
    return "\n\n".join(parts)


# -- summary paragraph -----------------------------------------------------------------------


def templated_summary(shared: SharedDigest, personal: PersonalDigest | None) -> str:
    """The summary paragraph from ``digest_summary.txt`` (no language model)."""
    majors = {q.coin.symbol.upper(): q for q in shared.majors}
    moves = {key: _move(majors.get(symbol)) for symbol, key in _SYMBOL_NAMES.items()}
    portfolio = alerts = ""
    if personal is not None:
        portfolio = _portfolio_sentence(personal.portfolios)
        alerts = _alerts_sentence(personal)
    return prompts.render(
        "digest_summary",
        **moves,
        portfolio=portfolio,
        alerts=alerts,
        stablecoins=_stablecoin_sentence(shared),
    )


def summary_prompt(body: str, *, group: bool) -> str:
    """The instruction for a language model to write the summary of ``body``."""
    audience = prompts.load("digest_audience_group" if group else "digest_audience_user")
    return prompts.render("digest_summary_prompt", audience=audience, digest=body)


def tidy_summary(text: str) -> str:
    """A model's paragraph as one plain line of at most :data:`MAX_SUMMARY_CHARS` characters
    (cut at a sentence end when it is longer); ``""`` when nothing usable is left."""
    flat = " ".join(str(text).replace("**", "").replace("__", "").split())
    flat = flat.lstrip("#>-* ").strip()
    if len(flat) <= MAX_SUMMARY_CHARS:
        return flat
    cut = flat[:MAX_SUMMARY_CHARS]
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    return cut[: end + 1] if end > 0 else cut.rstrip() + "..."


def _move(quote: Quote | None) -> str:
    if quote is None:
        return "has no price right now"
    price = format_money(quote.price, quote.vs_currency)
    change = quote.change_24h_pct
    if change is None:
        return f"stands at {price}"
    if abs(change) < Decimal("0.05"):
        return f"was flat at {price}"
    verb = "rose" if change > 0 else "fell"
    return f"{verb} {abs(change):.2f}% to {price}"


def _portfolio_sentence(lines: Sequence[PortfolioLine]) -> str:
    valued = [p for p in lines if p.error is None and p.holdings]
    if not valued:
        return ""
    currencies = {p.currency for p in valued}
    if len(currencies) != 1:
        return f" Your {len(valued)} portfolios are listed below."
    currency = currencies.pop()
    total, change_value, change_pct = _totals(valued)
    sentence = f" Your portfolio{'s are' if len(valued) > 1 else ' is'} worth "
    sentence += format_cash(total, currency)
    if change_pct is not None and change_value is not None:
        if abs(change_pct) < Decimal("0.05"):
            sentence += ", about the same as a day ago"
        else:
            word = "up" if change_value > 0 else "down"
            sentence += f", {word} {abs(change_pct):.2f}% on the day"
    return sentence + "."


def _alerts_sentence(personal: PersonalDigest) -> str:
    parts = []
    if personal.fired_total:
        n = personal.fired_total
        parts.append(f"{n} of your alerts fired" if n > 1 else "1 of your alerts fired")
    if personal.near:
        n = len(personal.near)
        parts.append(f"{n} {'are' if n > 1 else 'is'} close to triggering")
    if not parts:
        return ""
    if len(parts) == 2:
        return f" {parts[0]} since yesterday and {parts[1]}."
    return f" {parts[0]} since yesterday." if personal.fired_total else f" {parts[0].capitalize()}."


def _stablecoin_sentence(shared: SharedDigest) -> str:
    if not shared.stablecoins_tracked:
        return ""
    off = [line for line in shared.stablecoins if line.off_peg]
    if not off:
        return " The major stablecoins are holding their pegs."
    worst = off[0].health
    names = ", ".join(line.health.coin.symbol for line in off[:3])
    verb = "is" if len(off) == 1 else "are"
    return (
        f" {names} {verb} off peg (worst {worst.coin.symbol} at {format_pct(worst.deviation_pct)})."
    )


# -- sections --------------------------------------------------------------------------------


def _major_line(quote: Quote) -> str:
    return (
        f"{quote.coin.symbol} {format_money(quote.price, quote.vs_currency)} "
        f"(24h {format_pct(quote.change_24h_pct)})"
    )


def _movers(quotes: Sequence[Quote]) -> str:
    return ", ".join(f"{q.coin.symbol} {format_pct(q.change_24h_pct)}" for q in quotes)


def _stablecoin_section(shared: SharedDigest) -> str:
    if not shared.stablecoins_tracked:
        return ""
    lines = ["Stablecoins"]
    off = [line for line in shared.stablecoins if line.off_peg]
    lines += [_stablecoin_line(line) for line in off]
    if not off:
        lines.append("No major stablecoin is off its peg.")
    ranked = [line for line in shared.stablecoins if not line.off_peg and line.risk is not None]
    if ranked:
        lines.append(
            "Highest depeg risk: "
            + ", ".join(
                f"{line.health.coin.symbol} {line.risk.score}/100" for line in ranked if line.risk
            )
        )
    return "\n".join(lines)


def _stablecoin_line(line: StablecoinLine) -> str:
    h = line.health
    peg = h.coin.peg_currency or "peg"
    price = format_price(h.price_in_peg, stable=True) if h.price_in_peg is not None else "n/a"
    text = (
        f"{h.coin.symbol} {price} {peg}, {format_pct(h.deviation_pct)} from peg "
        f"({h.severity.value})"
    )
    if h.disputed:
        text += ", sources disagree"
    if line.risk is not None:
        text += f"; risk {line.risk.score}/100 ({line.risk.level})"
    return text


def _portfolio_section(lines: Sequence[PortfolioLine]) -> str:
    if not lines:
        return "Your portfolio\nNo trades recorded yet. Record a buy to see its value here."
    out = ["Your portfolio"]
    for p in lines[:MAX_PORTFOLIOS]:
        out.append(_portfolio_line(p, named=len(lines) > 1))
    if len(lines) > MAX_PORTFOLIOS:
        out.append(f"and {len(lines) - MAX_PORTFOLIOS} more portfolios")
    valued = [p for p in lines if p.error is None]
    if len(valued) > 1 and len({p.currency for p in valued}) == 1:
        total, change_value, change_pct = _totals(valued)
        out.append(f"Total: {_value_text(total, change_value, change_pct, valued[0].currency)}")
    return "\n".join(out)


def _portfolio_line(p: PortfolioLine, *, named: bool) -> str:
    head = f'"{p.name}": ' if named else ""
    if p.error is not None:
        return f"{head}cannot be valued: {p.error}"
    if not p.holdings:
        return f"{head}nothing held"
    text = head + _value_text(p.value, p.change_24h_value, p.change_24h_pct, p.currency)
    if p.unpriced:
        text += f"; no price for {', '.join(p.unpriced[:5])}"
    return text


def _value_text(
    value: Decimal, change_value: Decimal | None, change_pct: Decimal | None, currency: str
) -> str:
    if change_value is None:
        return f"{format_cash(value, currency)}, 24h change unknown"
    sign = "+" if change_value > 0 else ""
    return (
        f"{format_cash(value, currency)}, 24h {sign}{format_cash(change_value, currency)} "
        f"({format_pct(change_pct)})"
    )


def _totals(lines: Sequence[PortfolioLine]) -> tuple[Decimal, Decimal | None, Decimal | None]:
    total = sum((p.value for p in lines), Decimal(0))
    changes = [p for p in lines if p.change_24h_value is not None]
    if not changes:
        return total, None, None
    change = sum((p.change_24h_value or Decimal(0) for p in changes), Decimal(0))
    before = sum((p.value - (p.change_24h_value or Decimal(0)) for p in changes), Decimal(0))
    pct = change / before * 100 if before else None
    return total, change, pct


def _alert_section(personal: PersonalDigest, tz: ZoneInfo) -> str:
    lines = ["Your alerts"]
    if personal.fired_total:
        lines.append(f"Fired in the last 24 hours ({personal.fired_total}):")
        for fired in personal.fired:
            local = fired.fired_at.astimezone(tz)
            lines.append(f"- {local:%H:%M} {fired.message}")
        hidden = personal.fired_total - len(personal.fired)
        if hidden > 0:
            lines.append(f"- and {hidden} more")
    else:
        lines.append("None fired in the last 24 hours.")
    if personal.near:
        lines.append("Close to triggering:")
        lines += [_near_line(n) for n in personal.near]
    return "\n".join(lines)


def _near_line(n: NearAlert) -> str:
    return (
        f"- #{n.alert_id} {n.subject} {n.direction} {format_money(n.threshold, n.currency)}: "
        f"{n.distance_pct:.1f}% away (now {format_money(n.current, n.currency)})"
    )
