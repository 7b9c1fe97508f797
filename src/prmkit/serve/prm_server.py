"""PRM reward server: per-step scores over HTTP with dynamic batching.

Endpoints (JSON in, JSON out):
- `POST /score` `{"problem": str, "steps": [str, ...]}` -> `{"scores": [p_1..p_K], "reward": r}`;
  batch form `{"items": [{"problem", "steps"}, ...]}` -> `{"scores": [[...], ...], "rewards": [...]}`.
- `POST /get_reward` (OpenRLHF remote reward model) `{"query": [text, ...], "prompts": [...],
  "labels": [...]}` -> `{"rewards": [...], "scores": [...]}`: each query is split into the
  problem and its steps (see `split_query`); the reward aggregates the step scores.
- `GET /health` -> status and batching statistics (no token needed).

Every item of every concurrent request goes into one queue; `DynamicBatcher` takes up
to `max_batch_size` items, waiting at most `max_wait_ms` after the first for more, and
scores them in one `StepScorer.score` call on a worker thread (with `ScorerProcess`, in
a child process). Two batches may be in flight, one scoring and the next queued behind
it. While a batch runs, new requests queue up, so under load batches fill without
waiting.
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from prmkit.models.chat_text import TextCleaner, split_query
from prmkit.models.steps import STEP_SEP
from prmkit.prm.aggregate import AGGREGATORS, check_aggregator
from prmkit.prm.base import StepScorer
from prmkit.serve.batcher import DynamicBatcher, Item, Overloaded
from prmkit.serve.http import (
    ApiError,
    Guard,
    bad,
    get_obj,
    get_str,
    get_str_list,
    parse_json,
    simple_error,
)
from prmkit.serve.scorer_process import CLIENT_ERRORS


@dataclass
class Limits:
    max_items: int = 256
    """most items (batch form) or queries (/get_reward) in one request"""
    max_steps: int = 64
    """most steps per item"""
    max_chars: int = 16384
    """most characters per item (problem and steps together)"""


def _json(obj) -> bytes:
    """A JSON body without FastAPI's generic encoder (plain dicts, lists, floats)."""
    return json.dumps(obj, separators=(",", ":")).encode()


def parse_item(d, where: str, limits: Limits) -> Item:
    d = get_obj(d, where or "body")
    problem = get_str(d, "problem", where)
    steps = get_str_list(d, "steps", where, max_len=limits.max_steps)
    pre = f"{where}." if where else ""
    if not problem.strip():
        raise bad(422, pre + "problem", "must not be blank")
    for i, s in enumerate(steps):
        if not s.strip():
            raise bad(422, f"{pre}steps[{i}]", "must not be blank")
    n = len(problem) + sum(len(s) for s in steps)
    if n > limits.max_chars:
        raise bad(413, where or "item", f"has {n} characters, over the limit of {limits.max_chars}")
    return problem, steps


def parse_batch(body: dict, limits: Limits) -> list[Item]:
    """The items of a batch-form /score body."""
    raw = body["items"]
    if not isinstance(raw, list) or not raw:
        raise bad(422, "items", "must be a non-empty list of {problem, steps} objects")
    if len(raw) > limits.max_items:
        raise bad(413, "items", f"has {len(raw)} entries, over the limit of {limits.max_items}")
    return [parse_item(d, f"items[{i}]", limits) for i, d in enumerate(raw)]


def parse_queries(
    body: dict, limits: Limits, step_sep: str, cleaner: TextCleaner | None
) -> list[Item]:
    """A /get_reward body's queries as (problem, steps) items (steps may be empty)."""
    queries = get_str_list(body, "query", max_len=limits.max_items)
    prompts = get_str_list(body, "prompts", max_len=limits.max_items, required=False)
    if prompts is not None and len(prompts) != len(queries):
        raise bad(422, "prompts", f"has {len(prompts)} entries but query has {len(queries)}")
    labels = body.get("labels")
    if labels is not None and (not isinstance(labels, list) or len(labels) != len(queries)):
        raise bad(
            422, "labels", "must be a list as long as query (labels are accepted and ignored)"
        )
    out = []
    for i, q in enumerate(queries):
        problem, steps = split_query(q, None if prompts is None else prompts[i], step_sep, cleaner)
        if len(steps) > limits.max_steps:
            raise bad(
                413, f"query[{i}]", f"has {len(steps)} steps, over the limit of {limits.max_steps}"
            )
        if len(q) > limits.max_chars:
            raise bad(
                413, f"query[{i}]", f"has {len(q)} characters, over the limit of {limits.max_chars}"
            )
        out.append((problem, steps))
    return out


class PRMService:
    """What the routes do: batch items through the scorer, aggregate, count requests."""

    def __init__(
        self,
        scorer: StepScorer,
        batcher: DynamicBatcher,
        limits: Limits,
        aggregator: str,
        empty_reward: float,
        step_sep: str,
        cleaner: TextCleaner | None,
    ) -> None:
        check_aggregator(aggregator)
        self.scorer, self.batcher, self.limits = scorer, batcher, limits
        self.aggregator, self.agg = aggregator, AGGREGATORS[aggregator]
        self.empty_reward, self.step_sep, self.cleaner = empty_reward, step_sep, cleaner
        self.counts = {"requests": 0, "client_errors": 0}

    def count_error(self, e: ApiError) -> None:
        self.counts["client_errors"] += 1

    def reward(self, scores: list[float]) -> float:
        return float(self.agg(scores)) if scores else self.empty_reward

    async def score_items(self, items: list[Item], names: list[str]) -> list[list[float]]:
        self.counts["requests"] += 1
        try:
            results = await self.batcher.submit(items)
        except Overloaded as e:
            raise ApiError(503, f"server busy: {e}") from None
        for name, r in zip(names, results):
            if isinstance(r, CLIENT_ERRORS):
                raise bad(422, name, f"the PRM cannot score it: {r}")
            if isinstance(r, Exception):
                raise ApiError(500, f"{name}: internal error in the PRM: {type(r).__name__}: {r}")
        return results

    def health(self, max_batch_size: int, max_wait_ms: float) -> dict:
        return {
            "status": "ok",
            "scorer": self.scorer.kind,
            "aggregator": self.aggregator,
            "max_batch_size": max_batch_size,
            "max_wait_ms": max_wait_ms,
            **self.counts,
            **self.batcher.stats(),
        }

    async def score(self, data: bytes) -> bytes:
        """POST /score, one item or a batch of them."""
        body = get_obj(parse_json(data))
        if "items" in body:
            items = parse_batch(body, self.limits)
            scores = await self.score_items(items, [f"items[{i}]" for i in range(len(items))])
            return _json({"scores": scores, "rewards": [self.reward(s) for s in scores]})
        (scores,) = await self.score_items([parse_item(body, "", self.limits)], ["item"])
        return _json({"scores": scores, "reward": self.reward(scores)})

    async def get_reward(self, data: bytes) -> bytes:
        """POST /get_reward, OpenRLHF's remote reward model: queries with no steps score empty."""
        items = parse_queries(get_obj(parse_json(data)), self.limits, self.step_sep, self.cleaner)
        where = [i for i, (_, steps) in enumerate(items) if steps]
        scores: list[list[float]] = [[] for _ in items]
        if where:
            try:
                results = await self.score_items(
                    [items[i] for i in where], [f"query[{i}]" for i in where]
                )
            except ApiError as e:
                if e.status == 422 and self.cleaner is None:
                    e.message += (
                        "; if the queries are chat-templated or padded, start the server"
                        " with --tokenizer (the policy's tokenizer folder)"
                    )
                raise
            for i, sc in zip(where, results):
                scores[i] = sc
        else:
            self.counts["requests"] += 1
        rewards = [self.reward(sc) for sc in scores]
        return _json({"rewards": rewards, "scores": rewards, "step_scores": scores})


def create_app(
    scorer: StepScorer,
    *,
    max_batch_size: int = 32,
    max_wait_ms: float = 5.0,
    token: str | None = None,
    max_body_bytes: int = 1_000_000,
    limits: Limits | None = None,
    aggregator: str = "min",
    empty_reward: float = 0.0,
    step_sep: str = STEP_SEP,
    max_queue: int = 16384,
    cleaner: TextCleaner | None = None,
):
    """The FastAPI app; `app.state.batcher` holds the batcher (and its statistics).

    `cleaner` (from the policy's tokenizer) strips /get_reward queries' special tokens
    and finds the problem in chat-templated prompts."""
    batcher = DynamicBatcher(scorer, max_batch_size, max_wait_ms, max_queue)
    svc = PRMService(
        scorer, batcher, limits or Limits(), aggregator, empty_reward, step_sep, cleaner
    )

    @asynccontextmanager
    async def lifespan(app):
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="prmkit PRM server", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.batcher = batcher
    app.state.counts = svc.counts

    @app.get("/health")
    async def health():
        return svc.health(max_batch_size, max_wait_ms)

    # The scoring routes are answered by Guard itself (its `routes`): they parse and
    # validate the body there, and per-request overhead is what limits batching.
    app.add_middleware(
        Guard,
        max_body_bytes=max_body_bytes,
        token=token,
        error_body=simple_error,
        routes={"/score": svc.score, "/get_reward": svc.get_reward},
        on_error=svc.count_error,
    )
    return app
