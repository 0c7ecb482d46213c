"""The kernel sandbox: no network, no view of solutions/, reference data or the home folder."""

from __future__ import annotations

import os

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder import REPO_ROOT
from autograder.sandbox import Box, BoxLimits, Kernel, bwrap_works

PROBE = f"""
import os, socket
try:
    socket.create_connection(("1.1.1.1", 80), timeout=2)
    print("network: open")
except OSError:
    print("network: blocked")
print("solutions:", os.path.exists({str(REPO_ROOT / 'solutions')!r}))
print("reference:", os.path.exists({str(REPO_ROOT / 'data' / 'reference')!r}))
print("embeddings:", os.path.exists({str(REPO_ROOT / 'data' / 'embeddings.npz')!r}))
print("git:", os.path.exists({str(REPO_ROOT / '.git')!r}))
print("home:", os.path.exists(os.path.expanduser("~root/.bashrc")) or os.path.exists("/root/.ssh"))
"""


@pytest.fixture
def sandbox():
    ok, why = bwrap_works()
    if not ok:
        message = f"the grading sandbox does not work here: {why} (install bubblewrap: apt-get install bubblewrap)"
        if os.environ.get("ATTNLAB_REQUIRE_SANDBOX"):
            pytest.fail(message)  # CI: grading without isolation is a failure, not a skip
        pytest.skip(message)


def test_kernel_sees_no_network_and_no_answers(tmp_path, sandbox):
    nb = new_notebook(cells=[new_code_cell(PROBE)])
    box = Box(tmp_path, BoxLimits(memory_mb=3000)).create()
    kernel = Kernel(nb, box, timeout=20, memory_mb=3000, use_bwrap=True)
    try:
        assert kernel.run(nb.cells[0], 0) == "ok"
    finally:
        kernel.stop()
        box.destroy()
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert "network: blocked" in text
    assert "solutions: False" in text and "reference: False" in text and "git: False" in text
    assert "home: False" in text
    assert "embeddings: True" in text  # what the notebooks legitimately load is there
