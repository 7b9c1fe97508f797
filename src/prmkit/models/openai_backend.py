"""A Generator that samples from any OpenAI-compatible server (`prmkit serve policy`, vLLM).

Prompts go out as `/v1/completions` requests, `prompts_per_request` prompts each (the
`prompt` list form), at most `concurrency` in flight, through prmkit's one HTTP client
for such endpoints (`prmkit.models.openai_http`): connection errors, timeouts, 408, 409,
429 and 5xx answers are retried with exponential backoff and jitter (honouring
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
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx

from prmkit.data import InputError
from prmkit.models.generator import Generation, SamplingParams, TextGenerator
from prmkit.models.openai_http import HTTPStatusError, OpenAIHTTP, Unreachable
from prmkit.models.steps import STEP_SEP, split_steps

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


class OpenAIGenerator(TextGenerator):
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
        self.extensions = extensions
        key = (
            api_key
            if api_key is not None
            else os.environ.get("PRMKIT_API_KEY") or os.environ.get("OPENAI_API_KEY")
        )
        self.http = OpenAIHTTP(
            base,
            key,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            max_backoff=max_backoff,
            max_connections=self.concurrency,
            transport=transport,
        )
        self.stats = self.http.stats
        self._pool: ThreadPoolExecutor | None = None

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        """One JSON call with retries (`prmkit.models.openai_http`); ValueError for a
        client error, InputError for a refused token or a server that stays unreachable
        or failing."""
        try:
            return self.http.request(method, path, body)
        except HTTPStatusError as e:
            if e.status == 401:
                raise InputError(
                    f"HTTP 401: {e.message}; set PRMKIT_API_KEY to the server's token", self.url
                ) from None
            raise ValueError(f"policy server {self.base}: {e}") from None
        except Unreachable as e:
            raise InputError(str(e), self.url) from None

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

    # -- Generator (the tokenizer and the context length live on the server) -------------

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
        self.http.close()
