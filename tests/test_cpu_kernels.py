"""The numbers do not depend on the CPU: other SIMD and BLAS kernels give the same verdicts.

PyTorch and OpenBLAS choose their CPU kernels at run time, and a student's laptop, Binder and
CI each get other ones (other summation orders, other rounding). Both libraries can be told
to use another kernel set, so this machine can play other CPUs:

- ``ATEN_CPU_CAPABILITY``: PyTorch's vectorised kernels (softmax, GELU, layer norm, ...);
- ``OPENBLAS_CORETYPE``: NumPy's OpenBLAS (every ``@`` in the course and the grader);
- ``MKL_ENABLE_INSTRUCTIONS``: PyTorch's own matrix products.

The numeric tests (stored reference outputs and model inputs, the real model's attention, the
capstone, torch's MultiheadAttention, the bottleneck experiment, and every correct catalogue
answer against the stored references, i.e. what the grader decides) run again under each
kernel set below, in a subprocess, and must pass there too. The stored data were made with
this machine's default (AVX-512) kernels.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from attnlab.checks import check_reference
from autograder import SOLUTIONS
from autograder.notebooks import SUPPORT_TAG, read, solution_cells, strip_markers
from autograder.spec import exercise_modules
from catalogue import catalogues

ROOT = Path(__file__).resolve().parent.parent

# Two CPUs this machine can play: one with no vector units the libraries use, one laptop-class
# AVX2 machine without AVX-512 (the CI machine itself runs AVX-512 kernels).
KERNELS = {
    "no-simd": dict(ATEN_CPU_CAPABILITY="default", OPENBLAS_CORETYPE="Nehalem",
                    MKL_ENABLE_INSTRUCTIONS="SSE4_2"),
    "avx2": dict(ATEN_CPU_CAPABILITY="avx2", OPENBLAS_CORETYPE="Haswell",
                 MKL_ENABLE_INSTRUCTIONS="AVX2"),
}

NUMERIC_TESTS = [
    "tests/test_drift.py::test_reference_outputs_equal_what_the_solutions_give_now",
    "tests/test_bertviz.py",
    "tests/test_data_models.py",
    "tests/test_multi_head_torch.py",
    "tests/test_bottleneck.py",
    "tests/test_cpu_kernels.py::test_correct_answers_pass_the_stored_reference_cases",
    "tests/test_cpu_kernels.py::test_the_requested_kernels_are_the_ones_running",
]


# --- run inside each kernel set (and in the main run, with the default kernels) ---------------


def _correct_functions():
    """(assignment, variant, function) for every catalogued correct answer of a graded function."""
    out = []
    for aid, cat in sorted(catalogues().items()):
        graded = exercise_modules()[aid].FUNCTIONS
        for variant, cells in cat.CORRECT.items():
            out += [(aid, variant, gid) for gid in cells if gid in graded]
    return out


@pytest.mark.parametrize("aid,variant,function", _correct_functions(),
                         ids=[f"{a}-{v}-{f}" for a, v, f in _correct_functions()])
def test_correct_answers_pass_the_stored_reference_cases(aid, variant, function):
    """What the grader decides: a correct answer, computed with these kernels, against the
    reference outputs stored from another machine's kernels."""
    solution = read(SOLUTIONS / aid / f"{aid}.ipynb")
    ns: dict = {}
    for cell in solution.cells:  # given code and the other answers it builds on
        if cell.cell_type == "code" and SUPPORT_TAG in cell.get("metadata", {}).get("tags", []):
            exec(compile(strip_markers(cell.source), "<support>", "exec"), ns)
    for gid, cell in solution_cells(solution).items():
        if gid in exercise_modules()[aid].FUNCTIONS:
            exec(compile(strip_markers(cell.source), f"<solution {gid}>", "exec"), ns)
    exec(compile(catalogues()[aid].CORRECT[variant][function], f"<{variant} {function}>", "exec"), ns)
    check_reference(ns[function], aid, function)


def _openblas_core() -> str:
    """The kernel set NumPy's OpenBLAS chose (it exports its name)."""
    import ctypes

    import numpy as np

    libs = sorted((Path(np.__file__).parent.parent / "numpy.libs").glob("libscipy_openblas*.so*"))
    for lib in libs:
        dll = ctypes.CDLL(str(lib))
        for symbol in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename"):
            if hasattr(dll, symbol):
                fn = getattr(dll, symbol)
                fn.restype = ctypes.c_char_p
                return fn().decode()
    pytest.skip("NumPy's OpenBLAS is not the scipy-openblas build this test knows")


def test_the_requested_kernels_are_the_ones_running():
    """Without this, a misspelt variable would silently test the default kernels again."""
    wanted = os.environ.get("ATTNLAB_KERNELS")
    if not wanted:
        pytest.skip("runs inside test_numeric_tests_pass_with_other_cpu_kernels")
    import torch

    env = KERNELS[wanted]
    assert torch.backends.cpu.get_cpu_capability() == env["ATEN_CPU_CAPABILITY"].upper()
    assert _openblas_core().lower() == env["OPENBLAS_CORETYPE"].lower()


# --- the driver ----------------------------------------------------------------------


def _supported(kernels: dict) -> bool:
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return kernels["ATEN_CPU_CAPABILITY"] != "avx2" or " avx2" in flags


@pytest.fixture(scope="module")
def kernel_runs(tmp_path_factory):
    """Both kernel sets at once (one subprocess each: two cores). {name: junit report}"""
    procs = {}
    for name, env in KERNELS.items():
        if not _supported(env):
            continue
        out = tmp_path_factory.mktemp(f"kernels-{name}")
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               f"--junitxml={out / 'junit.xml'}", *NUMERIC_TESTS]
        procs[name] = (subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env, "ATTNLAB_KERNELS": name},
                                        stdout=open(out / "log.txt", "w"), stderr=subprocess.STDOUT), out)
    results = {}
    for name, (proc, out) in procs.items():
        proc.wait(timeout=1500)
        results[name] = (proc.returncode, (out / "log.txt").read_text(), out / "junit.xml")
    return results


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_numeric_tests_pass_with_other_cpu_kernels(name, kernel_runs):
    import xml.etree.ElementTree as ET

    if name not in kernel_runs:
        pytest.skip(f"this CPU cannot run the {name} kernels")
    code, log, junit = kernel_runs[name]
    assert code == 0, f"with {KERNELS[name]}:\n{log[-6000:]}"
    cases = ET.parse(junit).getroot().iter("testcase")
    skipped = [c.get("name") for c in cases if c.find("skipped") is not None]
    assert skipped == [], f"skipped under {name}: {skipped}"
