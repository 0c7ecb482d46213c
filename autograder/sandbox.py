"""Run a student's notebook in its own kernel, inside a box the kernel cannot write through.

One :class:`Box` per submission, made by the worker that grades it:

``box/grader/``   the grader's own files (connection file, kernel log); the kernel never sees it
``box/calls/``    inputs of the calls the grader makes; the kernel sees it read-only
``box/rw/``       the only places the kernel may write, each its own mount in the sandbox (so
                  it cannot be swapped for a link): ``out/`` (captures and results, read back
                  through ``wire.Reader``), ``work/`` (its working directory), ``sock/`` (the
                  kernel's sockets), ``home/``. As root, ``rw/`` is a tmpfs with a size cap.

The kernel runs under Debian's bubblewrap (``bwrap``) when it works: a read-only view of the
system, Python, the venv and ``attnlab``, and of ``data/`` only what notebooks load (never
``data/reference`` or ``data/samples``); nothing of ``solutions/``, the grader, the tests, git,
other submissions or the output folder; a private ``/tmp`` with a size cap; no network, its own
PID namespace, no capabilities, an emptied environment.

Resource limits hold for the whole box, children included, where the machine offers cgroups
(v1 or v2, as root): memory (with ``/tmp`` and the scratch tmpfs, which are RAM), number of
processes and threads, and a CPU quota so that one box cannot slow its neighbours down. Where
it does not, every process gets ``prlimit`` limits instead, and :meth:`Box.limits` says which
limits held; the grader prints it and writes it into ``report.txt``.

The kernel talks to the grader over Unix sockets (so it works without a network). Each cell runs
with a timeout (the kernel is interrupted, then restarted if it does not come back), and every
output of a cell (streams, displays, errors) is cut past a cap before it is kept.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from . import DATA, REPO_ROOT
from .kernel_client import SteadyClient

OUTPUT_CAP = 20_000  # characters of output kept per cell
ERROR_CAP = 4_000  # characters of an error's message and traceback kept
HIDDEN_DATA = ("reference", "samples")
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_PREFIX = "attnlab-box-"
LOG_TAIL = 64 * 1024  # bytes of the kernel's own stdout/stderr kept for diagnosis


# --- the box: folders and limits ------------------------------------------------------------


@dataclass
class BoxLimits:
    memory_mb: int = 4096  # everything the box holds in RAM, children, /tmp and scratch included
    # Processes and threads: a kernel that loaded the course's model and ran it holds 14
    # (measured); a notebook has no reason to start processes of its own.
    pids: int = 32
    cpus: float = 1.0  # cores' worth of CPU time per second
    tmp_mb: int = 256  # the sandbox's /tmp
    scratch_mb: int = 512  # box/rw: working directory, results (arrays of at most 256 MB), sockets


def _cgroup_mounts() -> dict[str, Path]:
    """cgroup v1 controller -> the directory of this process's cgroup in that hierarchy."""
    own = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for c in controllers.split(","):
                own[c] = path
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return {}
    found = {}
    for line in mounts:
        pre, _, post = line.partition(" - ")
        fields_ = pre.split()
        fstype, _src, opts = (post.split() + ["", "", ""])[:3]
        if fstype != "cgroup":
            continue
        root, mount = fields_[3], Path(fields_[4])
        for c in opts.split(","):
            if c in ("memory", "pids", "cpu", "cpuacct") and c in own:
                rel = os.path.relpath(own[c], root) if own[c].startswith(root) else None
                if rel is not None:
                    found[c] = (mount / rel).resolve()
    return found


def _unified() -> Path | None:
    """This process's cgroup v2 directory, if /sys/fs/cgroup is a v2 hierarchy with controllers."""
    if not (CGROUP_ROOT / "cgroup.controllers").exists():
        return None
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                return CGROUP_ROOT / line[3:].lstrip("/")
    except OSError:
        pass
    return None


class Box:
    """One submission's folders and resource limits (see the module docstring)."""

    def __init__(self, root: Path, limits: BoxLimits):
        self.root, self.lim = root, limits
        self.grader, self.calls, self.rw = root / "grader", root / "calls", root / "rw"
        self.out, self.work, self.sock, self.home = (self.rw / n for n in ("out", "work", "sock", "home"))
        self.cgroups: list[Path] = []  # directories made for this box
        self.procs_files: list[Path] = []  # where the kernel's first process writes its PID
        self.mounted = False
        self.held: list[str] = []
        self.missing: list[str] = []
        self.cpu_file: Path | None = None

    def create(self) -> "Box":
        """Make the folders (``root`` exists already, mode 0700, e.g. from mkdtemp) and limits."""
        self.root.chmod(0o700)
        self.grader.mkdir(mode=0o700)
        self.calls.mkdir(mode=0o755)
        self.rw.mkdir(mode=0o755)
        self._scratch()
        for d in (self.out, self.work, self.sock, self.home):
            d.mkdir()
        self._cgroups()
        return self

    def _scratch(self) -> None:
        if os.geteuid() == 0 and shutil.which("mount"):
            r = subprocess.run(["mount", "-t", "tmpfs", "-o",
                                f"size={self.lim.scratch_mb}m,mode=0755,nosuid,nodev", "tmpfs", str(self.rw)],
                               capture_output=True, text=True)
            if r.returncode == 0:
                self.mounted = True
                self.held.append(f"scratch space {self.lim.scratch_mb} MB (tmpfs)")
                return
        self.missing.append("scratch space on disk is not capped (needs root to mount a tmpfs)")

    def _cgroups(self) -> None:
        name = f"{CGROUP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"  # the owner's PID: see sweep()
        lim = self.lim
        unified = _unified()
        try:
            if unified is not None:
                d = unified / name
                d.mkdir()
                self.cgroups.append(d)
                (d / "memory.max").write_text(str(lim.memory_mb * 2**20))
                if (d / "memory.swap.max").exists():
                    (d / "memory.swap.max").write_text("0")
                (d / "pids.max").write_text(str(lim.pids))
                (d / "cpu.max").write_text(f"{int(lim.cpus * 100_000)} 100000")
                self.procs_files = [d / "cgroup.procs"]
                self.cpu_file = d / "cpu.stat"
            else:
                mounts = _cgroup_mounts()
                if not {"memory", "pids", "cpu"} <= set(mounts):
                    raise OSError("cgroup controllers memory, pids and cpu are not all available")
                dirs = {}
                for c, base in mounts.items():
                    d = base / name
                    if d not in dirs.values():
                        d.mkdir()
                        self.cgroups.append(d)
                    dirs[c] = d
                mem = dirs["memory"]
                (mem / "memory.limit_in_bytes").write_text(str(lim.memory_mb * 2**20))
                if (mem / "memory.memsw.limit_in_bytes").exists():
                    (mem / "memory.memsw.limit_in_bytes").write_text(str(lim.memory_mb * 2**20))
                (dirs["pids"] / "pids.max").write_text(str(lim.pids))
                (dirs["cpu"] / "cpu.cfs_period_us").write_text("100000")
                (dirs["cpu"] / "cpu.cfs_quota_us").write_text(str(int(lim.cpus * 100_000)))
                self.procs_files = sorted({d / "cgroup.procs" for d in dirs.values()})
                if "cpuacct" in dirs:
                    self.cpu_file = dirs["cpuacct"] / "cpuacct.usage"
        except OSError as exc:
            self._remove_cgroups()
            self.procs_files, self.cpu_file = [], None
            self.missing.append(f"no cgroups ({exc.strerror or exc}): memory is capped per process "
                                "(children not counted), processes and CPU share are not capped")
            return
        self.held += [f"memory {lim.memory_mb} MB for the whole box, children, /tmp and scratch "
                      "included (cgroup)", f"at most {lim.pids} processes and threads (cgroup)",
                      f"CPU share {lim.cpus:g} core(s) (cgroup)"]

    def limits(self, use_bwrap: bool) -> list[str]:
        """Which limits held for this box, in words (and which did not)."""
        held = list(self.held)
        if use_bwrap:
            held.append(f"/tmp {self.lim.tmp_mb} MB (tmpfs)")
        return held + [f"NOT HELD: {m}" for m in self.missing]

    def enter(self, cmd: list[str]) -> list[str]:
        """``cmd``, started inside this box's cgroups (its PID written first, then exec)."""
        if not self.procs_files:
            return cmd
        script = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 97; shift; done; shift; exec "$@"'
        return ["/bin/sh", "-c", script, "sh", *map(str, self.procs_files), "--", *cmd]

    def cpu_seconds(self) -> float | None:
        """CPU time used by everything that ran in the box so far."""
        try:
            text = self.cpu_file.read_text() if self.cpu_file else None
        except OSError:
            return None
        if text is None:
            return None
        if self.cpu_file.name == "cpu.stat":
            for line in text.splitlines():
                if line.startswith("usage_usec"):
                    return int(line.split()[1]) / 1e6
            return None
        return int(text.strip()) / 1e9

    def scratch_full(self) -> bool:
        """Whether the kernel filled its scratch space (then its results may be missing)."""
        try:
            st = os.statvfs(self.rw)
        except OSError:
            return False
        return self.mounted and st.f_bavail * st.f_frsize < 2**20

    def memory_peak_mb(self) -> float | None:
        for d in self.cgroups:
            for f in ("memory.max_usage_in_bytes", "memory.peak"):
                try:
                    return int((d / f).read_text()) / 2**20
                except OSError:
                    continue
        return None

    def _kill_all(self) -> None:
        _kill_processes(self.procs_files)

    def _remove_cgroups(self) -> None:
        _remove_cgroups(self.cgroups, self.procs_files)
        self.cgroups = []

    def destroy(self) -> None:
        self._kill_all()
        self._remove_cgroups()
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.rw)], capture_output=True)
            self.mounted = False
        shutil.rmtree(self.root, ignore_errors=True)


def _kill_processes(procs_files: list[Path]) -> None:
    """SIGKILL every process listed in these cgroup.procs files."""
    for f in procs_files:
        try:
            pids = [int(p) for p in f.read_text().split()]
        except OSError:
            continue
        for pid in pids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass


def _remove_cgroups(cgroups: list[Path], procs_files: list[Path]) -> None:
    """Remove cgroup directories (innermost first), killing what still runs in them."""
    import time

    for d in reversed(cgroups):
        for _ in range(50):
            try:
                d.rmdir()
                break
            except OSError:
                _kill_processes(procs_files)
                time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def sweep(under: Path | None = None) -> None:
    """Remove what boxes of dead graders left behind (a run killed with SIGKILL cannot clean
    up): scratch tmpfs mounts (under ``under``, or of a run whose ``owner.pid`` is dead) and
    cgroups whose owning worker is dead."""
    try:
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        mounts = []
    for line in mounts:
        point = Path(line.split()[4].replace("\\040", " "))
        if point.name != "rw" or not point.parent.name.startswith("box-"):
            continue
        run = point.parent.parent
        if under is not None:
            stale = point.is_relative_to(under)
        else:
            try:
                stale = not _alive(int((run / "owner.pid").read_text()))
            except (OSError, ValueError):
                stale = False
        if stale:
            subprocess.run(["umount", "-l", str(point)], capture_output=True)
    bases = set(_cgroup_mounts().values())
    if _unified() is not None:
        bases.add(_unified())
    for base in bases:
        try:
            children = [d for d in base.iterdir() if d.name.startswith(CGROUP_PREFIX)]
        except OSError:
            continue
        for d in children:
            try:
                pid = int(d.name[len(CGROUP_PREFIX):].split("-")[0])
            except ValueError:
                continue
            if not _alive(pid):
                _remove_cgroups([d], [d / "cgroup.procs"])


# --- bubblewrap ---------------------------------------------------------------------------


def _env(home: str, tmp: str) -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    return {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home, "TMPDIR": tmp,
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


def bwrap_prefix(box: Box, tmp_mb: int) -> list[str]:
    # The empty /tmp comes first: the course itself may live under /tmp (a CI clone), and
    # bwrap mounts in order, so binds made after it show through it.
    rw = [a for d in (box.out, box.work, box.sock, box.home) for a in ("--bind", str(d), str(d))]
    return ["bwrap", "--die-with-parent", "--unshare-net", "--unshare-pid", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try", "--cap-drop", "ALL", "--new-session", "--clearenv",
            "--size", str(tmp_mb * 2**20), "--tmpfs", "/tmp", *_ro_binds(), "--proc", "/proc", "--dev", "/dev",
            "--ro-bind", str(box.calls), str(box.calls),
            "--ro-bind", str(box.grader / "kernel.json"), str(box.grader / "kernel.json"),
            *rw, "--chdir", str(box.work),
            *sum((["--setenv", k, v] for k, v in _env(str(box.home), "/tmp").items()), [])]


def _prlimit(memory_mb: int) -> list[str]:
    exe = shutil.which("prlimit")
    if not exe:
        return []
    return [exe, f"--as={memory_mb * 1024 * 1024}", f"--fsize={512 * 1024 * 1024}", "--core=0", "--"]


@lru_cache(maxsize=None)
def bwrap_works() -> tuple[bool, str]:
    """Whether bubblewrap can start a sandbox here (and why not)."""
    if not shutil.which("bwrap"):
        return False, "bubblewrap (bwrap) is not installed (Debian: apt-get install bubblewrap)"
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        box = Box(Path(tmp), BoxLimits())
        for d in (box.grader, box.calls, box.out, box.work, box.sock, box.home):
            d.mkdir(parents=True)
        (box.grader / "kernel.json").write_text("{}")
        cmd = [*bwrap_prefix(box, 64), sys.executable, "-c", "import numpy, attnlab; print('ok')"]
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


# --- the kernel ----------------------------------------------------------------------------


class _Tail:
    """Keeps the last bytes a pipe delivers (the kernel's own chatter), never more."""

    def __init__(self, fd: int):
        self.data = bytearray()
        self.thread = threading.Thread(target=self._read, args=(fd,), daemon=True)
        self.thread.start()

    def _read(self, fd: int) -> None:
        with os.fdopen(fd, "rb", buffering=0) as f:
            while chunk := f.read(65536):
                self.data += chunk
                del self.data[:-LOG_TAIL]


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs in a :class:`Box`, under bwrap + prlimit."""

    box: Box
    memory_mb: int = 4096
    use_bwrap: bool = True
    tail: _Tail | None = None

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
            return self.box.enter([*bwrap_prefix(self.box, self.box.lim.tmp_mb), *limits, *kernel])
        return self.box.enter([*limits, *kernel])

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        if not self.use_bwrap:
            kw["env"] = _env(str(self.box.home), str(self.box.work))
            kw["cwd"] = str(self.box.work)
        else:
            kw["env"] = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        r, w = os.pipe()  # the kernel's own stdout/stderr: a bounded tail, never a file it can grow
        self.tail = _Tail(r)
        kw["stdout"], kw["stderr"] = w, w
        try:
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        finally:
            os.close(w)


def cap_output(msg_type: str, content: dict, room: int) -> tuple[dict, bool]:
    """The output message's content cut to ``room`` characters (errors to ERROR_CAP);
    returns (content, whether anything was cut)."""
    cut = False
    if msg_type == "stream":
        text = str(content.get("text", ""))
        if len(text) > room:
            content["text"], cut = text[:max(room, 0)] + "\n[output truncated by the grader]\n", True
    elif msg_type == "error":
        for key, n in (("ename", 100), ("evalue", ERROR_CAP)):
            if len(str(content.get(key, ""))) > n:
                content[key], cut = str(content[key])[:n] + " [truncated]", True
        tb = content.get("traceback")
        if isinstance(tb, list):
            kept, used = [], 0
            for line in reversed(tb):
                line = str(line)[:ERROR_CAP]
                used += len(line)
                if used > ERROR_CAP or len(kept) >= 40:
                    cut = True
                    break
                kept.append(line)
            content["traceback"] = kept[::-1]
    elif msg_type in ("display_data", "execute_result", "update_display_data"):
        data = content.get("data")
        size = sum(len(str(v)) for v in data.values()) if isinstance(data, dict) else 0
        if size > room:
            content["data"] = {"text/plain": f"[an output of {size:,} characters, removed by the grader]"}
            content["metadata"], cut = {}, True
    return content, cut


class CappedClient(SteadyClient):
    """nbclient with a cap on how much output a cell may keep, of every kind."""

    def output(self, outs, msg, display_id, cell_index):
        used = self._used
        n = used.get(cell_index, 0)
        msg_type = msg["msg_type"]
        room = OUTPUT_CAP - n if msg_type != "error" else ERROR_CAP
        if room <= 0 and msg_type != "error":
            if cell_index not in self.truncated:
                self.truncated.add(cell_index)
                from nbformat.v4 import new_output
                outs.append(new_output("stream", name="stdout", text="\n[output truncated by the grader]\n"))
            return None
        content, cut = cap_output(msg_type, msg.get("content", {}), room)
        msg["content"] = content
        if cut:
            self.truncated.add(cell_index)
        used[cell_index] = n + sum(len(str(v)) for v in content.values())
        return super().output(outs, msg, display_id, cell_index)


    async def _check_raise_for_error(self, cell, cell_index, exec_reply):
        # The reply says the cell raised, but its error output never came (too big to send in
        # time, say): keep the error, capped, so the grader can tell what happened.
        content = (exec_reply or {}).get("content", {})
        if content.get("status") == "error" and not any(
                o.get("output_type") == "error" for o in cell.get("outputs", [])):
            from nbformat.v4 import new_output
            capped, _ = cap_output("error", {k: content.get(k) for k in ("ename", "evalue", "traceback")}, 0)
            cell.setdefault("outputs", []).append(new_output(
                "error", ename=str(capped.get("ename") or ""), evalue=str(capped.get("evalue") or ""),
                traceback=[str(t) for t in capped.get("traceback") or []]))
        return await super()._check_raise_for_error(cell, cell_index, exec_reply)


class Kernel:
    """One student's kernel: run cells with a timeout; survives crashes by restarting."""

    def __init__(self, nb, box: Box, timeout: int, memory_mb: int, use_bwrap: bool):
        self.nb, self.box, self.timeout = nb, box, timeout
        self.memory_mb, self.use_bwrap = memory_mb, use_bwrap
        self.client = None
        self.restarts = 0
        self.log = b""

    def start(self) -> None:
        km = SandboxedKernelManager(transport="ipc", ip=str(self.box.sock / "kernel"),
                                    connection_file=str(self.box.grader / "kernel.json"))
        km.box, km.memory_mb, km.use_bwrap = self.box, self.memory_mb, self.use_bwrap
        self.client = CappedClient(self.nb, km=km, timeout=self.timeout, allow_errors=True,
                                   interrupt_on_timeout=False, startup_timeout=120,
                                   kernel_name="python3", record_timing=False,
                                   resources={"metadata": {"path": str(self.box.work)}})
        self.client.truncated = set()
        self.client._used = {}
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
            tail = getattr(self.client.km, "tail", None)
            if tail is not None:
                self.log = bytes(tail.data)
            self.client = None

    def restart(self) -> None:
        self.stop()
        self.box._kill_all()  # anything the old kernel left running in the box
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


