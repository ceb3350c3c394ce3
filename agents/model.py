"""The model factory: an OpenAI-compatible endpoint or the offline router.

``CRYPTOGUARD_LLM=openai`` (or ``auto`` with an API key or base URL configured) uses
``ChatOpenAI`` against any chat-completions endpoint: OpenAI, Ollama, vLLM, LM Studio.
``offline`` (or ``auto`` without one) uses :class:`OfflineRouterModel`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from langchain_core.language_models import BaseChatModel

from agents.offline import OfflineNLU, embedding_nlu
from agents.router import OfflineRouterModel
from tools.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """Plain model settings."""

    mode: str = "auto"
    api_key: str | None = None
    base_url: str | None = None
    model: str = "gpt-4o-mini"
    timeout_s: float = 60.0


def uses_llm(config: ModelConfig) -> bool:
    """True when the agent talks to an OpenAI-compatible endpoint (paid tokens)."""
    if config.mode == "openai":
        return True
    return config.mode == "auto" and bool(config.api_key or config.base_url)


@cache
def shared_nlu() -> OfflineNLU:
    """The offline language understanding, loaded once per process (MiniLM backs the cue
    phrases when the ``nlp`` extra is installed; loading it takes a few seconds)."""
    return embedding_nlu()


def build_chat_model(config: ModelConfig) -> BaseChatModel:
    """The chat model for ``config``.

    Raises:
        ConfigurationError: ``openai`` mode with neither an API key nor a base URL.
    """
    if config.mode not in ("auto", "openai", "offline"):
        raise ConfigurationError(
            f"CRYPTOGUARD_LLM must be auto, openai or offline, not {config.mode!r}."
        )
    if not uses_llm(config):
        return OfflineRouterModel(nlu=shared_nlu())
    if not (config.api_key or config.base_url):
        raise ConfigurationError(
            "CRYPTOGUARD_LLM=openai needs CRYPTOGUARD_OPENAI__API_KEY "
            "or CRYPTOGUARD_OPENAI__BASE_URL."
        )
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    return ChatOpenAI(
        model=config.model,
        api_key=SecretStr(config.api_key or "not-needed"),
        base_url=config.base_url,
        timeout=config.timeout_s,
        max_retries=2,
        temperature=0,
        use_responses_api=False,
        disable_streaming=True,
    )
