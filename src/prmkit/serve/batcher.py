"""Dynamic batching for the reward server: items from concurrent requests go into one
queue; a worker thread scores up to `max_batch_size` of them in one `StepScorer.score`
call, waiting at most `max_wait_ms` after the first for more."""

from __future__ import annotations

import asyncio
import math
import time
from concurrent.futures import ThreadPoolExecutor

from prmkit.prm.base import StepScorer
from prmkit.serve.scorer_process import ScorerProcess

Item = tuple[str, list[str]]


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
