"""The numerical-equivalence tests (``-m equivalence``) rerun under other float32 summation orders on this machine.

CI runs on whichever CPU a change is submitted from: AVX-512 or AVX2 only, one or two cores. Each setting below
changes the order in which float32 sums are formed, the way another CPU would: ATen's kernels for AVX2 or its portable
ones (with MKL and oneDNN held to AVX2, as on an AVX2-only CPU), one or two threads, and a CPU hog beside the run.
A tolerance fitted to one machine's rounding fails here. Slow (2.5-3 min a setting, 10 min under the hog):
``make test-cpus``.
"""

import os
import subprocess
import sys
import time

import pytest
from helpers import ROOT

AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
PORTABLE = {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
SETTINGS = {
    "avx2-1-thread": dict(AVX2, RLNOISE_NUM_THREADS="1"),
    "avx2-2-threads": dict(AVX2, RLNOISE_NUM_THREADS="2"),
    "portable-1-thread": dict(PORTABLE, RLNOISE_NUM_THREADS="1"),
    "portable-2-threads": dict(PORTABLE, RLNOISE_NUM_THREADS="2"),
    "native-2-threads-under-load": dict(RLNOISE_NUM_THREADS="2"),
}
HOG = "import sys, time\nend = time.time() + float(sys.argv[1])\nwhile time.time() < end:\n    pass\n"


def cpu_hogs(seconds: float, count: int) -> list[subprocess.Popen]:
    """``count`` busy-looping processes that stop by themselves after ``seconds``."""
    return [subprocess.Popen([sys.executable, "-c", HOG, str(seconds)]) for _ in range(count)]


@pytest.mark.slow
@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_equivalence_tests_pass_under_another_summation_order(setting):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env.update(SETTINGS[setting], PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "pytest", "-q", "-m", "equivalence", "-p", "no:randomly", "-p", "no:xdist"]
    hogs = cpu_hogs(1800, os.cpu_count() or 1) if "under-load" in setting else []
    start = time.time()
    try:
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=1800)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    print(f"{setting}: {summary} ({time.time() - start:.0f} s)")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in summary and "deselected" in summary, summary
