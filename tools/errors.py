"""Domain errors shared by every capability and front-end.

Every error a user can see derives from :class:`CryptoGuardError` and carries a
``user_message``: plain text, safe to show on any platform, no Markdown or HTML.
Foreign exceptions (httpx, SQLAlchemy, LangChain) are converted where they enter
the project (``raise MarketDataUnavailableError(...) from exc``); nothing above a
client catches a third-party exception type. ``storage`` has its own small error
module (it imports nothing from the project); services translate those errors.

Hierarchy::

    CryptoGuardError
    ├── UserInputError                 the request itself is wrong; fix the input
    │   ├── InvalidSymbolError         not something that could be a coin symbol
    │   ├── UnknownSymbolError         looks like a symbol, but no coin matches
    │   ├── UnsupportedCurrencyError   a quote currency we cannot price in
    │   ├── FormulaError               a custom formula that does not parse (analysis)
    │   └── NotFoundError              an id that does not exist or is not yours
    ├── LimitError                     a cap was reached (alerts, turns, size)
    ├── UpstreamError                  a service we depend on failed
    │   ├── MarketDataUnavailableError no provider (and no cache) could answer
    │   └── LLMUnavailableError        the language model endpoint failed
    └── ConfigurationError             settings are missing or inconsistent
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence


class CryptoGuardError(Exception):
    """Base of every CryptoGuard error.

    Args:
        user_message: Plain text that is safe to show to the user.
        detail: Optional operator-facing detail for logs (never shown to users).
    """

    default_message = "Something went wrong."

    def __init__(self, user_message: str | None = None, *, detail: str | None = None) -> None:
        self.user_message = user_message or self.default_message
        self.detail = detail
        super().__init__(self.user_message if detail is None else f"{self.user_message} ({detail})")


class UserInputError(CryptoGuardError):
    """The request is malformed or refers to something that does not exist."""

    default_message = "That input is not valid."


class InvalidSymbolError(UserInputError):
    """The text cannot be a coin symbol or name (empty, too long, odd characters)."""

    default_message = "That is not a valid coin symbol."


class UnknownSymbolError(UserInputError):
    """No coin matches the given symbol or name.

    Args:
        symbol: The text the user gave, echoed back in the message.
        suggestions: Close matches (tickers) to offer instead.
    """

    def __init__(self, symbol: str, suggestions: Sequence[str] = ()) -> None:
        self.symbol = symbol
        self.suggestions = list(suggestions)
        shown = symbol if len(symbol) <= 40 else symbol[:37] + "..."
        message = f'Unknown coin "{shown}".'
        if self.suggestions:
            message += " Did you mean " + ", ".join(self.suggestions[:5]) + "?"
        super().__init__(message)


class UnsupportedCurrencyError(UserInputError):
    """A quote currency that the market layer cannot price in."""

    def __init__(self, currency: str, supported: Sequence[str]) -> None:
        self.currency = currency
        shown = currency if len(currency) <= 12 else currency[:9] + "..."
        super().__init__(
            f'Unsupported currency "{shown}". Use one of: {", ".join(sorted(supported))}.'
        )


class NotFoundError(UserInputError):
    """An id that does not exist, or belongs to someone else (same message either way)."""

    default_message = "Not found."


class LimitError(CryptoGuardError):
    """A configured cap was reached."""

    default_message = "A limit was reached."


class UpstreamError(CryptoGuardError):
    """A service CryptoGuard depends on failed."""

    default_message = "An upstream service is not answering right now."


class MarketDataUnavailableError(UpstreamError):
    """No market data provider (and no cached value) could answer."""

    default_message = "Market data is unavailable right now. Please try again in a minute."


class LLMUnavailableError(UpstreamError):
    """The language model endpoint failed or is unreachable."""

    default_message = "The language model is not answering right now. Please try again later."


class ConfigurationError(CryptoGuardError):
    """Settings are missing or inconsistent."""

    default_message = "CryptoGuard is not configured correctly."


def new_incident_id() -> str:
    """A short random id tying a user-visible apology to a log record."""
    return secrets.token_hex(4)
