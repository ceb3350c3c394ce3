"""Agent benchmarks: per-turn overhead of the offline model, batch answering, memory.

* Overhead per turn, excluding tool I/O: the real graph (middleware, in-memory
  checkpointer) with tools that answer instantly, driven once by the offline router and
  once by a scripted model that replays the same messages (the framework's own cost,
  the reference). Reported as p50/p95 and the ratio between the two.
* ``cryptoguard ask --batch`` on the dev questions, wall time including start-up.
* Peak RSS of that process (the ``nlp`` extra is reported only when installed).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain.tools import tool
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import BaseTool
from langgraph.checkpoint.memory import InMemorySaver

from agents.graph import build_agent
from agents.router import OfflineRouterModel
from tools.adapters.context import ToolContext
from tools.identity import ChatRef, UserRef

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "price of BTC", "how much is ethereum right now?", "prices for sol and avax",
    "what is XRP worth in EUR", "market overview", "top 5 coins by market cap",
    "stablecoin peg status", "is DAI on peg?", "hello there", "set timezone to Asia/Tokyo",
]  # fmt: skip


def instant_tools() -> list[BaseTool]:
    """Tools with the contract's names and signatures that answer at once."""

    @tool
    async def get_price(symbols: list[str], vs_currency: str = "usd") -> str:
        """Get prices."""
        return f"{symbols} {vs_currency}: 1.00"

    @tool
    async def market_overview(limit: int = 10) -> str:
        """Top coins."""
        return f"top {limit}"

    @tool
    async def stablecoin_status(symbols: list[str] | None = None) -> str:
        """Pegs."""
        return "all on peg"

    @tool
    async def update_settings(timezone: str | None = None, digest_time: str | None = None) -> str:
        """Settings."""
        return "ok"

    return [get_price, market_overview, stablecoin_status, update_settings]


class ReplayModel(BaseChatModel):
    """Replays the offline router's decisions, recorded beforehand, with no thinking."""

    script: dict[str, AIMessage] = {}

    @property
    def _llm_type(self) -> str:
        return "replay"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self.bind(**kwargs)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:  # fmt: skip
        human = next(m for m in reversed(messages) if isinstance(m, HumanMessage))
        done = isinstance(messages[-1], ToolMessage)
        message = AIMessage(content="answer") if done else self.script[str(human.content)]
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(self, messages: list[BaseMessage], stop: Any = None,
                         run_manager: Any = None, **kwargs: Any) -> ChatResult:  # fmt: skip
        return self._generate(messages)


async def turn_times(model: BaseChatModel, rounds: int) -> list[float]:
    graph = build_agent(model, instant_tools(), checkpointer=InMemorySaver())
    times = []
    for i in range(rounds):
        question = QUESTIONS[i % len(QUESTIONS)]
        context = ToolContext(UserRef("bench", str(i)), ChatRef("bench", i))
        config: Any = {"configurable": {"thread_id": f"t{i}"}, "recursion_limit": 16}
        start = time.perf_counter()
        await graph.ainvoke({"messages": [HumanMessage(question)]}, config, context=context)
        times.append(time.perf_counter() - start)
    return times[5:]  # drop warm-up


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


async def overhead_rows() -> list[tuple[str, str, str]]:
    router = OfflineRouterModel()
    names = {t.name for t in instant_tools()}
    script = {q: router.respond([HumanMessage(q)], names) for q in QUESTIONS}
    offline = await turn_times(router, 205)
    replay = await turn_times(ReplayModel(script=script), 205)
    p95, ref95 = pct(offline, 95), pct(replay, 95)
    return [
        ("agent turn, scripted model (framework reference)",
         f"p95 {ref95 * 1e3:.1f} ms", f"p50 {statistics.median(replay) * 1e3:.1f} ms"),
        ("agent turn, offline router (no tool I/O)", f"p95 {p95 * 1e3:.1f} ms",
         f"{p95 / ref95:.2f}x the framework; router adds {(p95 - ref95) * 1e3:.1f} ms; "
         f"{'ok' if p95 < 0.030 else 'OVER 30 ms TARGET'}"),
    ]  # fmt: skip


def batch_rows() -> list[tuple[str, str, str]]:
    questions = ROOT.parent / "shared" / "eval" / "dev_queries.jsonl"
    if not questions.exists():
        return [("ask --batch (dev questions)", "skipped", f"{questions} not found")]
    count = sum(1 for line in questions.read_text().splitlines() if line.strip())
    cli = str(Path(sys.executable).parent / "cryptoguard")
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "CRYPTOGUARD_LLM": "offline",
            "CRYPTOGUARD_MARKET": "offline",
            "CRYPTOGUARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db",
            "PATH": "/usr/bin:/bin",
        }
        start = time.perf_counter()
        out = subprocess.run(  # noqa: S603
            [cli, "ask", "--json", "--batch", str(questions)],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        elapsed = time.perf_counter() - start
    answers = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)  # noqa: S603
    reference = time.perf_counter() - start
    nlp = importlib.util.find_spec("transformers") is not None
    return [
        (f"ask --batch, {count} dev questions", f"{elapsed:.2f} s",
         f"{len(answers)} answers; {elapsed / reference:.0f}x a bare python start; "
         f"{'ok' if elapsed < 20 else 'OVER 20 s TARGET'}"),
        ("peak RSS of that process", f"{rss_mb:.0f} MB",
         "with the nlp extra" if nlp else "without the nlp extra (not installed here)"),
    ]  # fmt: skip


def rows() -> list[tuple[str, str, str]]:
    """All agent benchmark rows."""
    return asyncio.run(overhead_rows()) + batch_rows()


if __name__ == "__main__":
    for name, value, note in rows():
        print(f"{name:52} {value:>14}  {note}")
