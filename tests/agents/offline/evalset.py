"""Run the offline recogniser over a query set in the agent-eval format and score it.

The query format is the one of ``shared/eval/score_agent.py`` (``expect``, ``no_tool``,
``forbid``, ``forbid_args``, ``expect_rejected``, ``expect_error_contains``); the argument
comparison below mirrors that scorer (symbols as sets, numbers within 1%, periods and
windows by duration, ...). A tool intent is taken as a call that succeeds, so a mutating
call on an invalid request counts as a failure; a chat intent is an answer with no call.

Usage (from the repository root)::

    .venv/bin/python -m tests.agents.offline.evalset QUERIES.jsonl [--verbose] [--results OUT]

``--results OUT`` also writes what ``cryptoguard ask --json`` would print, for the real
scorer: ``python shared/eval/score_agent.py QUERIES.jsonl OUT``.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.offline import ChatIntent, ToolIntent, understand
from agents.offline.types import MUTATING_TOOLS, TOOL_NAMES

_ALIASES = {
    "BOLLINGER": "BBANDS", "BB": "BBANDS", "BOLLINGER_BANDS": "BBANDS", "STOCHASTIC": "STOCH",
    "MOVING_AVERAGE": "SMA", "MA": "SMA",
}  # fmt: skip


def _days(text: Any) -> float | None:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(h|d|w|m|mo|y)\s*", str(text).lower())
    if not m:
        return None
    unit = {"h": 1 / 24, "d": 1, "w": 7, "m": 30.4, "mo": 30.4, "y": 365}[m.group(2)]
    return float(m.group(1)) * unit


def _num(x: Any) -> float | None:
    try:
        return float(str(x).replace(",", "").replace("$", ""))
    except ValueError:
        return None


def _indicator(name: Any) -> str:
    n = re.sub(r"_?\d+$", "", re.sub(r"\(.*\)$", "", str(name).upper().replace(" ", "_")))
    return _ALIASES.get(n, n)


def match_value(key: str, want: Any, got: Any) -> bool:
    """Whether an argument matches its expectation (the scorer's lenient rules)."""
    if got is None:
        return False
    if key == "symbols":
        return isinstance(got, list) and {str(s).upper() for s in got} == {
            str(s).upper() for s in want
        }
    if key == "indicators":
        return isinstance(got, list) and {_indicator(s) for s in want} <= {
            _indicator(s) for s in got
        }
    if key == "targets":
        if not isinstance(got, dict):
            return False
        g = {str(k).upper(): _num(v) for k, v in got.items()}
        values = [v for v in g.values() if v is not None]
        if len(values) != len(g):
            return False
        scale = 100.0 if sum(values) > 1.5 else 1.0
        return set(g) == {k.upper() for k in want} and all(
            abs((g[k.upper()] or 0) / scale - v) <= 0.005 for k, v in want.items()
        )
    if key in ("period", "window"):
        a, b = _days(got), _days(want)
        return a is not None and b is not None and abs(a - b) <= 0.04 * b
    if key == "date":
        return str(got)[:10] == str(want)[:10]
    if key == "digest_time":
        return str(got).zfill(5)[:5] == str(want).zfill(5)[:5]
    if key == "formula":
        return re.sub(r"\s+", "", str(got)).upper() == re.sub(r"\s+", "", str(want)).upper()
    if isinstance(want, bool):
        return got is want or str(got).lower() == str(want).lower()
    if isinstance(want, int | float):
        a, b = _num(got), _num(want)
        return a is not None and b is not None and abs(a - b) <= 1e-9 + 0.01 * abs(b)
    return str(got).strip().lower() == str(want).strip().lower()


def as_result(query: str, intent: ToolIntent | ChatIntent) -> dict[str, Any]:
    """The intent in ``cryptoguard ask --json`` form (a tool call is taken to succeed)."""
    if isinstance(intent, ChatIntent):
        return {"q": query, "answer": intent.reason or intent.kind, "tool_calls": []}
    calls = [{"name": intent.tool, "args": args, "status": "ok"} for args in intent.calls]
    return {"q": query, "answer": f"{intent.tool} {json.dumps(intent.args)}", "tool_calls": calls}


def judge(case: dict[str, Any], result: dict[str, Any]) -> bool:
    """Whether one result passes its case (the rules of ``score_agent.judge``)."""
    calls = result["tool_calls"]
    answer = str(result.get("answer") or "")
    if "expect" in case:
        i = 0
        for call in calls:
            want = case["expect"][i] if i < len(case["expect"]) else None
            if (
                want
                and call["name"] == want["tool"]
                and all(
                    match_value(k, v, (call.get("args") or {}).get(k))
                    for k, v in want.get("args", {}).items()
                )
            ):
                i += 1
        return i == len(case["expect"])
    if case.get("no_tool"):
        return not calls and bool(answer.strip())
    if "forbid" in case:
        return not any(c["name"] in case["forbid"] and c["status"] == "ok" for c in calls)
    if "forbid_args" in case:
        return not any(k in (c.get("args") or {}) for c in calls for k in case["forbid_args"])
    if case.get("expect_rejected"):
        mutated = any(c["name"] in MUTATING_TOOLS and c["status"] == "ok" for c in calls)
        return not mutated and bool(answer.strip())
    if "expect_error_contains" in case:
        return all(t.lower() in answer.lower() for t in case["expect_error_contains"])
    raise ValueError(f"case has no expectation: {case}")


@dataclass(frozen=True)
class Score:
    """The outcome of a query set."""

    passed: int
    total: int
    failures: list[tuple[dict[str, Any], dict[str, Any]]]
    results: list[dict[str, Any]]

    @property
    def rate(self) -> float:
        """Share of cases passed."""
        return self.passed / self.total if self.total else 0.0


def load_cases(path: Path) -> list[dict[str, Any]]:
    """The cases of a JSONL query file."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run(cases: list[dict[str, Any]], tools: Collection[str] = TOOL_NAMES) -> Score:
    """Run ``understand`` on every case with ``tools`` available and score it."""
    failures, results = [], []
    for case in cases:
        result = as_result(case["q"], understand(case["q"], available_tools=tools))
        results.append(result)
        if not judge(case, result):
            failures.append((case, result))
    return Score(len(cases) - len(failures), len(cases), failures, results)


def main(argv: list[str]) -> int:
    """Command line entry point (see the module docstring)."""
    if len(argv) < 2:
        print(__doc__)
        return 2
    score = run(load_cases(Path(argv[1])))
    if "--verbose" in argv:
        for case, result in score.failures:
            want = case.get("expect") or {k: v for k, v in case.items() if k != "q"}
            print(
                f"FAIL {case['q']!r}\n  want: {want}\n  got:  {result['tool_calls']} "
                f"{result['answer'][:120]!r}"
            )
    if "--results" in argv:
        out = Path(argv[argv.index("--results") + 1])
        out.write_text("".join(json.dumps(r) + "\n" for r in score.results))
    print(
        f"offline-nlu: {score.passed} passed, {score.total - score.passed} failed "
        f"({100 * score.rate:.1f}%)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
