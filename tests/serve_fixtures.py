"""The serve tests' shared fixture and a scorer that crashes on demand."""

import os

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Servers score on a worker thread; on a busy 2-core machine two intra-op threads
    there slow generation down by orders of magnitude (spinning OpenMP workers)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class CrashingScorer:
    """Scores every step 0.5, but its process exits mid-call on a problem named "crash"
    (as a segfault in a native kernel would)."""

    kind = "crashing"

    def score(self, items):
        if any(problem == "crash" for problem, _ in items):
            os._exit(3)
        return [[0.5] * len(steps) for _, steps in items]


def crashing_scorer() -> CrashingScorer:
    """A module-level factory, so that ScorerProcess can build it in a spawned child."""
    return CrashingScorer()
