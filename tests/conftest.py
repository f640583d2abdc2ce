import os

import pytest
import torch
from threadpoolctl import threadpool_limits

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def one_thread():
    """Numeric libraries on one thread for a module (``pytestmark = pytest.mark.usefixtures("one_thread")``).

    On a shared, loaded machine oversubscribed threads make tiny fits tens of times slower; one thread also
    gives the same results in every run of a module, which report tests compare.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(threads)
