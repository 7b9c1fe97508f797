"""The serve tests' shared fixture."""

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
