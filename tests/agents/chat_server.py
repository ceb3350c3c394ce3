"""A local HTTP server speaking the OpenAI chat-completions protocol, for agent tests.

It answers ``POST /v1/chat/completions`` from a script: each response is either a tool
call or a final text, in the exact JSON shape the OpenAI API returns, and it records
every request body so tests can check what was sent to the "provider".
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class ChatServer:
    """Scripted replies and recorded requests."""

    script: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    base_url: str = ""
    status: int = 200

    def tool_call(self, name: str, args: dict[str, Any]) -> None:
        """Queue a response that calls ``name`` with ``args``."""
        self.tool_calls([(name, args)])

    def tool_calls(self, calls: list[tuple[str, dict[str, Any]]]) -> None:
        """Queue one response with several (parallel) tool calls."""
        self.script.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_{len(self.script)}_{i}",
                        "type": "function",
                        "function": {"name": name, "arguments": json.dumps(args)},
                    }
                    for i, (name, args) in enumerate(calls)
                ],
            }
        )

    def final(self, text: str) -> None:
        """Queue a plain answer."""
        self.script.append({"role": "assistant", "content": text})

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if self.status != 200:
            return web.json_response(
                {"error": {"message": "boom", "type": "server_error"}}, status=self.status
            )
        message = self.script.pop(0) if self.script else {"role": "assistant", "content": "ok"}
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        return web.json_response(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "local"),
                "choices": [{"index": 0, "finish_reason": finish, "message": message}],
                "usage": {"prompt_tokens": 40, "completion_tokens": 10, "total_tokens": 50},
            }
        )


@asynccontextmanager
async def chat_server() -> AsyncIterator[ChatServer]:
    """Run a ChatServer on a free local port."""
    server = ChatServer()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.base_url = f"http://127.0.0.1:{port}/v1"
    try:
        yield server
    finally:
        await runner.cleanup()
