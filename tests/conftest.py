"""Shared fixtures: an isolated cache per test session, offline hub, small thread pools."""

import os

import pytest
import torch

from rlnoise.core.distributed import physical_cores

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# `make test` runs pytest-xdist workers, one per core: each takes its share of the physical cores as torch threads,
# recipes run inside a worker included (RLNOISE_NUM_THREADS); more threads than cores slows every worker 2-5x.
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _workers > 1:
    os.environ.setdefault("RLNOISE_NUM_THREADS", str(max(1, physical_cores() // _workers)))
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


def pytest_terminal_summary(terminalreporter, config):
    """Print the random order's seed (pytest-randomly's header is hidden by -q) so a failing order can be replayed."""
    seed = getattr(config.option, "randomly_seed", None)
    if seed is not None and not getattr(config, "workerinput", None):
        terminalreporter.write_line(f"tests ran in a random order: replay it with --randomly-seed={seed}")
