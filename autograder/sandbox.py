"""Run a student's notebook in its own kernel, inside a sandbox, with limits.

The kernel is started through Debian's bubblewrap (``bwrap``) when it works:

- a read-only view of the system, the Python installation, the venv and the
  ``attnlab`` package; of ``data/`` only what notebooks load (never
  ``data/reference`` or ``data/samples``); nothing of ``solutions/``, the
  grader, the tests, git history, other submissions or the output folder;
- a private, writable ``/tmp``; the exchange folder (inputs from the grader,
  arrays back) as the only other writable place;
- no network (``--unshare-net``), its own PID namespace (it cannot see or
  signal other students' kernels), an emptied environment;
- ``prlimit``: an address-space cap (``--memory-mb``), a file-size cap, and
  core dumps off.

The kernel talks to the grader over Unix sockets in the exchange folder (so it
works without a network). Each cell runs with a timeout (the kernel is
interrupted, then restarted if it does not come back), and every cell's output
is truncated past a cap. If bubblewrap is missing or does not work here the
kernel runs as a plain subprocess with the same resource limits, and the run
says so (``describe()``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from . import DATA, REPO_ROOT
from .kernel_client import SteadyClient

OUTPUT_CAP = 20_000  # characters of output kept per cell
HIDDEN_DATA = ("reference", "samples")


def _prlimit(memory_mb: int) -> list[str]:
    exe = shutil.which("prlimit")
    if not exe:
        return []
    return [exe, f"--as={memory_mb * 1024 * 1024}", f"--fsize={512 * 1024 * 1024}", "--core=0", "--"]


def _env(home: str) -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    return {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home, "TMPDIR": "/tmp" if home == "/tmp" else home,
        "MPLCONFIGDIR": f"{home}/.mpl", "MPLBACKEND": "agg",
        "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
        "JUPYTER_PLATFORM_DIRS": "1",
    }


def _ro_binds() -> list[str]:
    """What the kernel may read: the system, Python, the venv, attnlab, and the public data."""
    paths = [Path(p) for p in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc")]
    paths += [Path(sys.base_prefix).resolve(), Path(sys.prefix), REPO_ROOT / "attnlab"]
    if DATA.exists():
        paths += [p for p in DATA.iterdir() if p.name not in HIDDEN_DATA]
    args: list[str] = []
    for p in paths:
        if p.exists() or p.is_symlink():
            if p.is_symlink() and str(p) in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
                args += ["--symlink", os.readlink(p), str(p)]
            else:
                args += ["--ro-bind", str(p), str(p)]
    return args


def bwrap_prefix(exchange: Path) -> list[str]:
    # The empty /tmp comes first: the course itself may live under /tmp (a CI clone), and
    # bwrap mounts in order, so binds made after it show through it.
    return ["bwrap", "--die-with-parent", "--unshare-net", "--unshare-pid", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try", "--clearenv", "--tmpfs", "/tmp",
            *_ro_binds(), "--proc", "/proc", "--dev", "/dev",
            "--bind", str(exchange), str(exchange), "--chdir", str(exchange / "work"),
            *sum((["--setenv", k, v] for k, v in _env("/tmp").items()), [])]


@lru_cache(maxsize=None)
def bwrap_works() -> tuple[bool, str]:
    """Whether bubblewrap can start a sandbox here (and why not)."""
    if not shutil.which("bwrap"):
        return False, "bubblewrap (bwrap) is not installed (Debian: apt-get install bubblewrap)"
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "work").mkdir()
        cmd = [*bwrap_prefix(Path(tmp)), sys.executable, "-c", "import numpy, attnlab; print('ok')"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"bubblewrap failed to start ({exc})"
        if proc.returncode != 0 or "ok" not in proc.stdout:
            return False, f"bubblewrap does not work here: {proc.stderr.strip()[-300:]}"
    return True, "bubblewrap"


def describe(use_sandbox: bool = True) -> str:
    ok, why = bwrap_works() if use_sandbox else (False, "disabled with --no-sandbox")
    if ok:
        return ("sandbox: bubblewrap (read-only system, no network, no view of solutions/, "
                "data/reference or other submissions), with memory, time and output limits")
    return (f"sandbox: NOT ISOLATED ({why}); kernels run as plain subprocesses with memory, "
            "time and output limits only. Run grading on a machine or account you do not mind "
            "student code touching.")


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs under bwrap + prlimit (or prlimit alone)."""

    exchange: Path
    memory_mb: int = 4096
    use_bwrap: bool = True

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None:
            spec.interrupt_mode = "message"  # a signal would stop at bwrap; ask the kernel itself
        return spec

    def format_kernel_cmd(self, extra_arguments=None):
        kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", self.connection_file]
        limits = _prlimit(self.memory_mb)
        if self.use_bwrap:
            return [*bwrap_prefix(self.exchange), *limits, *kernel]
        return [*limits, *kernel]

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        if not self.use_bwrap:
            kw["env"] = _env(str(self.exchange / "home"))
            kw["cwd"] = str(self.exchange / "work")
        else:
            kw["env"] = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        log = open(self.exchange / "kernel.log", "ab")  # the kernel's own chatter, not the grader's
        kw["stdout"], kw["stderr"] = log, log
        return await super()._async_launch_kernel(kernel_cmd, **kw)


class CappedClient(SteadyClient):
    """nbclient with a cap on how much output a cell may keep."""

    def output(self, outs, msg, display_id, cell_index):
        used = getattr(self, "_used", {})
        self._used = used
        n = used.get(cell_index, 0)
        content = msg.get("content", {})
        size = len(str(content.get("text", ""))) + len(str(content.get("data", ""))) + \
            len(str(content.get("traceback", "")))
        if msg["msg_type"] == "error":
            size = min(size, 1000)  # an error must always come through
        elif n >= OUTPUT_CAP:
            if n < OUTPUT_CAP + 1:
                used[cell_index] = OUTPUT_CAP + 1
                self.truncated.add(cell_index)
                from nbformat.v4 import new_output
                outs.append(new_output("stream", name="stdout",
                                       text="\n[output truncated by the grader]\n"))
            return None
        used[cell_index] = n + size
        if msg["msg_type"] == "stream" and size > OUTPUT_CAP:
            content["text"] = content["text"][:OUTPUT_CAP] + "\n[output truncated by the grader]\n"
            self.truncated.add(cell_index)
        return super().output(outs, msg, display_id, cell_index)


class Kernel:
    """One student's kernel: run cells with a timeout; survives crashes by restarting."""

    def __init__(self, nb, exchange: Path, timeout: int, memory_mb: int, use_bwrap: bool):
        self.nb, self.exchange, self.timeout = nb, exchange, timeout
        self.memory_mb, self.use_bwrap = memory_mb, use_bwrap
        self.client = None
        self.restarts = 0

    def start(self) -> None:
        (self.exchange / "work").mkdir(parents=True, exist_ok=True)
        (self.exchange / "home").mkdir(parents=True, exist_ok=True)
        km = SandboxedKernelManager(transport="ipc", ip=str(self.exchange / "kernel"),
                                    connection_file=str(self.exchange / "kernel.json"))
        km.exchange, km.memory_mb, km.use_bwrap = self.exchange, self.memory_mb, self.use_bwrap
        self.client = CappedClient(self.nb, km=km, timeout=self.timeout, allow_errors=True,
                                   interrupt_on_timeout=False, startup_timeout=120,
                                   kernel_name="python3", record_timing=False,
                                   resources={"metadata": {"path": str(self.exchange / "work")}})
        self.client.truncated = set()
        self.client.km = km
        self._ctx = self.client.setup_kernel()
        self._ctx.__enter__()

    def stop(self) -> None:
        if self.client is not None:
            try:
                self._ctx.__exit__(None, None, None)
            except Exception:
                pass
            try:
                if self.client.km.has_kernel:
                    run_sync(self.client.km.shutdown_kernel)(now=True)
            except Exception:
                pass
            self.client = None

    def restart(self) -> None:
        self.stop()
        self.restarts += 1
        self.start()

    def run(self, cell, index: int, timeout: int | None = None) -> str:
        """Execute one cell: 'ok', 'error', 'timeout' or 'died' (the kernel is restarted)."""
        if self.client is None:
            self.start()
        self.client.timeout = timeout or self.timeout
        try:
            self.client.execute_cell(cell, index)
        except CellTimeoutError:
            try:
                run_sync(self.client.km.interrupt_kernel)()
            except Exception:
                pass
            if not self.alive():
                self.restart()
                return "timeout-restarted"
            return "timeout"
        except DeadKernelError:
            self.restart()
            return "died"
        except Exception as exc:  # a broken channel looks like a dead kernel
            if "kernel" in str(exc).lower() or not self.alive():
                self.restart()
                return "died"
            raise
        if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return "error"
        return "ok"

    def alive(self) -> bool:
        """The kernel answers a trivial request within a few seconds."""
        from nbformat.v4 import new_code_cell
        try:
            if not run_sync(self.client.km.is_alive)():
                return False
            self.client.timeout = 5
            self.client.execute_cell(new_code_cell("pass"), 0)
            return True
        except Exception:
            return False
