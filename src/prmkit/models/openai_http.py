"""One HTTP client for OpenAI-compatible endpoints: the `openai` Generator backend and the
judge labeler both call through it.

JSON in, JSON out, over one pooled `httpx.Client` (thread-safe, keep-alive). Connection
errors, timeouts, answers that are not JSON and HTTP 408, 409, 429 and 5xx are retried
with exponential backoff and jitter, honouring Retry-After; any other non-200 answer
raises `HTTPStatusError` at once with the server's message (OpenAI's `error.message`).
When the retries run out, `Unreachable` says what the last attempt got.
"""

from __future__ import annotations

import random
import threading
import time

import httpx

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class HTTPStatusError(ValueError):
    """An answer that retrying will not change (a 4xx other than 408/409/429)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class Unreachable(ConnectionError):
    """No good answer after every attempt; `last` is what the last attempt got."""

    def __init__(self, attempts: int, last: str) -> None:
        super().__init__(f"no good answer after {attempts} attempts: {last}")
        self.attempts = attempts
        self.last = last


def error_message(r: httpx.Response) -> str:
    """The server's message: OpenAI's `error.message`, FastAPI's `detail`, or the text."""
    try:
        data = r.json()
    except ValueError:
        return r.text[:300]
    err = data.get("error", data.get("detail")) if isinstance(data, dict) else None
    if isinstance(err, dict):
        return str(err.get("message", err))
    return str(err if err is not None else r.text[:300])


class OpenAIHTTP:
    """JSON calls to one base URL with retries; `stats` counts requests and retries."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_connections: int = 8,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        n = max(1, max_connections)
        self.client = httpx.Client(
            base_url=base_url,
            headers=headers,
            timeout=timeout,
            limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
            transport=transport,
        )
        self._lock = threading.Lock()
        self.stats = {"requests": 0, "retries": 0}

    def _wait(self, attempt: int, retry_after: str | None) -> None:
        delay = min(self.max_backoff, self.backoff * 2**attempt) * (0.5 + random.random() / 2)
        if retry_after is not None:
            try:
                delay = min(self.max_backoff, max(delay, float(retry_after)))
            except ValueError:
                pass
        time.sleep(delay)

    def _count(self, key: str) -> None:
        with self._lock:
            self.stats[key] += 1

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        """One JSON call: the answer's JSON, `HTTPStatusError` or `Unreachable`."""
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self._count("retries")
            retry_after = None
            try:
                r = self.client.request(method, path, json=body)
            except httpx.TransportError as e:  # refused, reset, timed out
                last = f"{type(e).__name__}: {e}"
            else:
                self._count("requests")
                if r.status_code == 200:
                    try:
                        return r.json()
                    except ValueError:
                        last = "the answer is not JSON"
                elif r.status_code in RETRY_STATUS:
                    last = f"HTTP {r.status_code}: {error_message(r)}"
                    retry_after = r.headers.get("retry-after")
                else:
                    raise HTTPStatusError(r.status_code, error_message(r))
            if attempt < self.retries:
                self._wait(attempt, retry_after)
        raise Unreachable(self.retries + 1, last)

    def close(self) -> None:
        self.client.close()
