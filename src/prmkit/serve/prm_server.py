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

import asyncio
import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from prmkit.models.chat_text import TextCleaner, split_query
from prmkit.models.steps import STEP_SEP
from prmkit.prm.aggregate import AGGREGATORS, check_aggregator
from prmkit.prm.base import StepScorer
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
from prmkit.serve.scorer_process import CLIENT_ERRORS, ScorerProcess

Item = tuple[str, list[str]]


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


class Overloaded(Exception):
    pass


class DynamicBatcher:
    """Groups items from concurrent requests into `score` calls on one worker thread.

    A batch closes when it holds `max_batch_size` items or `max_wait_ms` passed since its
    first item arrived. If a batch call raises, its items are scored one by one so that a
    bad item fails only its own request. Results are per item: a list of floats, or the
    exception that item raised.
    """

    def __init__(
        self,
        scorer: StepScorer,
        max_batch_size: int = 32,
        max_wait_ms: float = 5.0,
        max_queue: int = 16384,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self.scorer = scorer
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000
        self.max_queue = max_queue
        self.queue: asyncio.Queue | None = None
        self.task: asyncio.Task | None = None
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="prm-batch")
        self.batches = self.items = self.largest = 0
        self.busy_s = 0.0

    async def start(self) -> None:
        self.queue = asyncio.Queue()
        self.task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
        self.pool.shutdown(wait=True)
        if isinstance(self.scorer, ScorerProcess):  # its child process ends
            self.scorer.close()

    async def submit(self, items: list[Item]) -> list:
        if self.queue is None:
            raise RuntimeError("batcher not started")
        if self.queue.qsize() + len(items) > self.max_queue:
            raise Overloaded(f"{self.queue.qsize()} items queued; try again shortly")
        loop = asyncio.get_running_loop()
        futs = [loop.create_future() for _ in items]
        for it, f in zip(items, futs):
            self.queue.put_nowait((it, f))
        if len(futs) == 1:  # the common case; gather's bookkeeping costs more than the wait
            return [await futs[0]]
        return list(await asyncio.gather(*futs))

    async def _collect(self) -> list:
        q = self.queue
        batch = [await q.get()]
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.max_batch_size:
            if not q.empty():
                batch.append(q.get_nowait())
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(q.get(), left))
            except TimeoutError:
                break
        return [(it, f) for it, f in batch if not f.done()]  # drop items of vanished clients

    async def _loop(self) -> None:
        # Two batches in flight: while one is scored, the next is collected and waits in
        # the worker's queue, so the scorer starts it the moment the first returns
        # instead of idling while the event loop answers and collects.
        slots = asyncio.Semaphore(2)
        running: set[asyncio.Task] = set()
        try:
            while True:
                await slots.acquire()
                batch = await self._collect()
                if not batch:
                    slots.release()
                    continue
                task = asyncio.create_task(self._run(batch))
                running.add(task)
                task.add_done_callback(lambda t: (running.discard(t), slots.release()))
        finally:
            for task in running:
                task.cancel()

    async def _run(self, batch: list) -> None:
        loop = asyncio.get_running_loop()
        results = await loop.run_in_executor(self.pool, self._timed, [it for it, _ in batch])
        self.batches += 1
        self.items += len(batch)
        self.largest = max(self.largest, len(batch))
        for (_, f), r in zip(batch, results):
            if not f.done():
                f.set_result(r)

    def _timed(self, items: list[Item]) -> list:
        t0 = time.perf_counter()
        try:
            return self._score(items)
        finally:
            self.busy_s += time.perf_counter() - t0

    def _score(self, items: list[Item]) -> list:
        try:
            out = self.scorer.score(items)
            _check_scores(items, out)
            return out
        except Exception as e:
            if len(items) == 1:
                return [e]
            return [self._score([it])[0] for it in items]

    def stats(self) -> dict:
        return {
            "batches": self.batches,
            "items": self.items,
            "mean_batch_size": round(self.items / self.batches, 2) if self.batches else 0.0,
            "largest_batch": self.largest,
            "queued": self.queue.qsize() if self.queue is not None else 0,
            "busy_seconds": round(self.busy_s, 3),
        } | (
            {"scorer_starts": self.scorer.starts} if isinstance(self.scorer, ScorerProcess) else {}
        )


def _check_scores(items: list[Item], out) -> None:
    if len(out) != len(items) or any(len(s) != len(it[1]) for s, it in zip(out, items)):
        raise RuntimeError("scorer returned the wrong number of scores")
    for s in out:
        for x in s:
            if not math.isfinite(x):
                raise ValueError("scorer returned a non-finite score")


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
    check_aggregator(aggregator)
    agg = AGGREGATORS[aggregator]
    limits = limits or Limits()
    batcher = DynamicBatcher(scorer, max_batch_size, max_wait_ms, max_queue)
    counts = {"requests": 0, "client_errors": 0}

    @asynccontextmanager
    async def lifespan(app):
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="prmkit PRM server", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.batcher = batcher
    app.state.counts = counts

    def count_error(e: ApiError) -> None:
        counts["client_errors"] += 1

    async def score_items(items: list[Item], names: list[str]) -> list[list[float]]:
        counts["requests"] += 1
        try:
            results = await batcher.submit(items)
        except Overloaded as e:
            raise ApiError(503, f"server busy: {e}") from None
        for name, r in zip(names, results):
            if isinstance(r, CLIENT_ERRORS):
                raise bad(422, name, f"the PRM cannot score it: {r}")
            if isinstance(r, Exception):
                raise ApiError(500, f"{name}: internal error in the PRM: {type(r).__name__}: {r}")
        return results

    def reward(scores: list[float]) -> float:
        return float(agg(scores)) if scores else empty_reward

    @app.get("/health")
    async def health():
        return {
            "status": "ok",
            "scorer": scorer.kind,
            "aggregator": aggregator,
            "max_batch_size": max_batch_size,
            "max_wait_ms": max_wait_ms,
            **counts,
            **batcher.stats(),
        }

    # The scoring routes are answered by Guard itself (its `routes`): they parse and
    # validate the body here, and per-request overhead is what limits batching.
    async def score(data: bytes) -> bytes:
        body = get_obj(parse_json(data))
        if "items" in body:
            raw = body["items"]
            if not isinstance(raw, list) or not raw:
                raise bad(422, "items", "must be a non-empty list of {problem, steps} objects")
            if len(raw) > limits.max_items:
                raise bad(
                    413, "items", f"has {len(raw)} entries, over the limit of {limits.max_items}"
                )
            items = [parse_item(d, f"items[{i}]", limits) for i, d in enumerate(raw)]
            scores = await score_items(items, [f"items[{i}]" for i in range(len(items))])
            return _json({"scores": scores, "rewards": [reward(s) for s in scores]})
        item = parse_item(body, "", limits)
        (scores,) = await score_items([item], ["item"])
        return _json({"scores": scores, "reward": reward(scores)})

    async def get_reward(data: bytes) -> bytes:
        body = get_obj(parse_json(data))
        queries = get_str_list(body, "query", max_len=limits.max_items)
        prompts = get_str_list(body, "prompts", max_len=limits.max_items, required=False)
        if prompts is not None and len(prompts) != len(queries):
            raise bad(422, "prompts", f"has {len(prompts)} entries but query has {len(queries)}")
        labels = body.get("labels")
        if labels is not None and (not isinstance(labels, list) or len(labels) != len(queries)):
            raise bad(
                422, "labels", "must be a list as long as query (labels are accepted and ignored)"
            )
        items, names, where = [], [], []
        for i, q in enumerate(queries):
            problem, steps = split_query(
                q, None if prompts is None else prompts[i], step_sep, cleaner
            )
            if len(steps) > limits.max_steps:
                raise bad(
                    413,
                    f"query[{i}]",
                    f"has {len(steps)} steps, over the limit of {limits.max_steps}",
                )
            if len(q) > limits.max_chars:
                raise bad(
                    413,
                    f"query[{i}]",
                    f"has {len(q)} characters, over the limit of {limits.max_chars}",
                )
            if steps:
                items.append((problem, steps))
                names.append(f"query[{i}]")
                where.append(i)
        scores: list[list[float]] = [[] for _ in queries]
        if items:
            try:
                results = await score_items(items, names)
            except ApiError as e:
                if e.status == 422 and cleaner is None:
                    e.message += (
                        "; if the queries are chat-templated or padded, start the server"
                        " with --tokenizer (the policy's tokenizer folder)"
                    )
                raise
            for i, s in zip(where, results):
                scores[i] = s
        else:
            counts["requests"] += 1
        rewards = [reward(s) for s in scores]
        return _json({"rewards": rewards, "scores": rewards, "step_scores": scores})

    app.add_middleware(
        Guard,
        max_body_bytes=max_body_bytes,
        token=token,
        error_body=simple_error,
        routes={"/score": score, "/get_reward": get_reward},
        on_error=count_error,
    )
    return app
