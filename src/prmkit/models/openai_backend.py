"""A Generator that samples from any OpenAI-compatible server (`prmkit serve policy`, vLLM).

Prompts go out as `/v1/completions` requests, `prompts_per_request` prompts each (the
`prompt` list form), at most `concurrency` in flight. Connection errors, timeouts, 429
and 5xx answers are retried with exponential backoff and jitter (honouring
Retry-After); other 4xx answers raise ValueError with the server's message.

Each request asks for the sampled tokens' log-probs (`logprobs: 0`) and, unless
`extensions=False`, for two vLLM extensions (`include_stop_str_in_output`,
`return_tokens_as_token_ids`) so that a `Generation` matches what the local backend
returns: text with its trailing step separator, token ids, one log-prob per token,
`finished` only at end-of-sequence (from vLLM's `stop_reason`). A plain OpenAI server
rejects unknown fields: use `extensions=False` there (token ids then stay empty).
"""

from __future__ import annotations

import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx

from prmkit.data import InputError
from prmkit.models.generator import Generation, SamplingParams
from prmkit.models.steps import STEP_SEP, split_steps

RETRY_STATUS = {408, 429, 500, 502, 503, 504}
SEED_STRIDE = 1_000_003  # request k of a seeded call uses seed + k * SEED_STRIDE


def parse_url(url: str) -> tuple[str, str | None]:
    """(base URL without /v1, model name from `?model=NAME`) for a server address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(
            "not a server address: expected http(s)://HOST:PORT[/v1][?model=NAME]", url
        )
    model = parse_qs(parts.query).get("model", [None])[0]
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[:-3]
    return urlunsplit((parts.scheme, parts.netloc, path, "", "")), model


class OpenAIGenerator:
    """Generator backed by an OpenAI-compatible completions endpoint."""

    def __init__(
        self,
        url: str,
        model: str | None = None,
        api_key: str | None = None,
        step_sep: str = STEP_SEP,
        concurrency: int = 8,
        prompts_per_request: int = 16,
        timeout: float = 120.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        extensions: bool = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        base, url_model = parse_url(url)
        self.url = url
        self.base = base
        self.model = model or url_model
        self.step_sep = step_sep
        self.concurrency = max(1, concurrency)
        self.prompts_per_request = max(1, prompts_per_request)
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.extensions = extensions
        key = (
            api_key
            if api_key is not None
            else os.environ.get("PRMKIT_API_KEY") or os.environ.get("OPENAI_API_KEY")
        )
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency
        )
        self.client = httpx.Client(
            base_url=base, headers=headers, timeout=timeout, limits=limits, transport=transport
        )
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.stats = {"requests": 0, "retries": 0}

    # -- HTTP with retries ------------------------------------------------------------

    def _wait(self, attempt: int, retry_after: str | None) -> None:
        delay = min(self.max_backoff, self.backoff * 2**attempt) * (0.5 + random.random() / 2)
        if retry_after is not None:
            try:
                delay = min(self.max_backoff, max(delay, float(retry_after)))
            except ValueError:
                pass
        time.sleep(delay)

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        """One JSON call with retries; ValueError for a client error, InputError if the
        server stays unreachable or failing."""
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                with self._lock:
                    self.stats["retries"] += 1
            retry_after = None
            try:
                r = self.client.request(method, path, json=body)
            except httpx.TransportError as e:  # refused, reset, timed out
                last = f"{type(e).__name__}: {e}"
            else:
                with self._lock:
                    self.stats["requests"] += 1
                if r.status_code == 200:
                    try:
                        return r.json()
                    except ValueError:
                        last = "the answer is not JSON"
                elif r.status_code in RETRY_STATUS:
                    last = f"HTTP {r.status_code}: {_message(r)}"
                    retry_after = r.headers.get("retry-after")
                elif r.status_code == 401:
                    raise InputError(
                        f"HTTP 401: {_message(r)}; set PRMKIT_API_KEY to the server's token",
                        self.url,
                    )
                else:
                    raise ValueError(
                        f"policy server {self.base}: HTTP {r.status_code}: {_message(r)}"
                    )
            if attempt < self.retries:
                self._wait(attempt, retry_after)
        raise InputError(f"no good answer after {self.retries + 1} attempts: {last}", self.url)

    def model_name(self) -> str:
        """The model to ask for: given, else the server's first listed model."""
        if self.model is None:
            data = self.request("GET", "/v1/models").get("data") or []
            if not data:
                raise InputError(
                    "the server lists no models; add ?model=NAME to the address", self.url
                )
            self.model = data[0]["id"]
        return self.model

    # -- Generator -----------------------------------------------------------------------

    def _body(self, prompts: list[str], params: SamplingParams, k: int) -> dict:
        body = {
            "model": self.model_name(),
            "prompt": prompts,
            "n": params.n,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "logprobs": 0,
        }
        if params.stop_at_step:
            body["stop"] = [self.step_sep]
        if params.seed is not None:
            body["seed"] = params.seed + k * SEED_STRIDE
        if self.extensions:
            body["include_stop_str_in_output"] = True
            body["return_tokens_as_token_ids"] = True
        return body

    def _generation(self, choice: dict, params: SamplingParams) -> Generation:
        text = choice.get("text") or ""
        reason = choice.get("finish_reason")
        stopped_at = choice.get("stop_reason")
        if (
            params.stop_at_step
            and reason == "stop"
            and stopped_at == self.step_sep
            and not text.endswith(self.step_sep)
        ):
            text += self.step_sep  # server left the stop string out
        if "stop_reason" in choice:
            finished = reason == "stop" and stopped_at is None
        else:  # plain OpenAI: a stop at the step separator looks like end-of-sequence
            finished = reason == "stop" and not params.stop_at_step
        ids: list[int] = []
        lps: list[float] = []
        lp = choice.get("logprobs") or {}
        toks = lp.get("tokens") or []
        vals = lp.get("token_logprobs") or []
        if toks and all(isinstance(t, str) and t.startswith("token_id:") for t in toks):
            ids = [int(t[9:]) for t in toks]
        lps = [float(v) for v in vals if v is not None]
        return Generation(text, split_steps(text, self.step_sep), ids, lps, finished)

    def _call(self, job: tuple[int, list[str], SamplingParams]) -> list[list[Generation]]:
        k, prompts, params = job
        data = self.request("POST", "/v1/completions", self._body(prompts, params, k))
        choices = sorted(data.get("choices") or [], key=lambda c: c.get("index", 0))
        if len(choices) != len(prompts) * params.n:
            raise InputError(
                f"server returned {len(choices)} choices for {len(prompts)} prompts x n={params.n}",
                self.url,
            )
        gens = [self._generation(c, params) for c in choices]
        return [gens[i * params.n : (i + 1) * params.n] for i in range(len(prompts))]

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Generation]]:
        """For each prompt text, `params.n` generations, in order."""
        if not prompts:
            return []
        self.model_name()
        step = self.prompts_per_request
        jobs = [
            (k, prompts[s : s + step], params) for k, s in enumerate(range(0, len(prompts), step))
        ]
        if len(jobs) == 1:
            return self._call(jobs[0])
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="openai")
        out: list[list[Generation]] = []
        for part in self._pool.map(self._call, jobs):
            out.extend(part)
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.client.close()


def _message(r: httpx.Response) -> str:
    try:
        data = r.json()
    except ValueError:
        return r.text[:300]
    err = data.get("error", data.get("detail")) if isinstance(data, dict) else None
    if isinstance(err, dict):
        return str(err.get("message", err))
    return str(err if err is not None else r.text[:300])
