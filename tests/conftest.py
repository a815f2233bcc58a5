"""Shared fixtures: an isolated cache per test session, offline hub, small thread pools."""

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# pytest-xdist workers share the cores: each takes its share of torch threads, recipes run in a worker included
# (RLNOISE_NUM_THREADS); more threads than cores slows every worker several times
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _workers > 1:
    os.environ.setdefault("RLNOISE_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _workers)))
torch.set_num_threads(int(os.environ.get("RLNOISE_NUM_THREADS", min(2, os.cpu_count() or 1))))


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Stage caches go to a temp folder; the converted SmolLM2 checkpoint is reused from the user cache."""
    from rlnoise.core.stages import cache_root

    old = os.environ.get("RLNOISE_CACHE")
    models = cache_root() / "models"
    models.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path_factory.mktemp("rlnoise_cache")
    (tmp / "models").symlink_to(models, target_is_directory=True)
    os.environ["RLNOISE_CACHE"] = str(tmp)
    yield
    if old is None:
        os.environ.pop("RLNOISE_CACHE", None)
    else:
        os.environ["RLNOISE_CACHE"] = old
