"""Worker processes that grade submissions in parallel and survive losing one of their own.

``concurrent.futures`` gives up on the whole pool when one worker dies (every pending
submission would fail with it). Here a dead worker is replaced at once; the submission it was
grading comes back as :class:`Lost`, for the caller to retry alone. Workers ignore Ctrl-C; the
main process stops them (they clean up their boxes) and re-raises ``KeyboardInterrupt``.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from dataclasses import dataclass
from multiprocessing.connection import wait


@dataclass
class Lost:
    """The worker grading ``job`` died (a crash, the machine's OOM killer) before it answered."""

    job: object
    exitcode: int | None


def _serve(conn, fn) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(143)))
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        try:
            conn.send(("ok", fn(job)))
        except SystemExit:
            raise
        except BaseException as exc:  # noqa: BLE001 - reported, not fatal to the pool
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class Pool:
    def __init__(self, fn, workers: int):
        self.fn, self.n = fn, max(1, workers)
        self.ctx = mp.get_context("spawn")
        self.procs: dict = {}  # conn -> (process, job or None)

    def _spawn(self) -> None:
        mine, theirs = self.ctx.Pipe()
        p = self.ctx.Process(target=_serve, args=(theirs, self.fn), daemon=True)
        p.start()
        theirs.close()
        self.procs[mine] = [p, None]

    def run(self, jobs):
        """Yield ``(job, result)`` as they finish; ``result`` is the function's return value,
        ``("error", text)`` if it raised, or :class:`Lost` if its worker died."""
        queue = list(jobs)
        try:
            while queue or any(job is not None for _, job in self.procs.values()):
                while len(self.procs) < min(self.n, len(queue) + self._busy()):
                    self._spawn()
                for conn, slot in self.procs.items():
                    if slot[1] is None and queue:
                        slot[1] = queue.pop(0)
                        conn.send(slot[1])
                busy = {conn: slot for conn, slot in self.procs.items() if slot[1] is not None}
                ready = wait([*busy, *(slot[0].sentinel for slot in busy.values())])
                for conn, slot in list(busy.items()):
                    proc, job = slot
                    if conn in ready:
                        try:
                            status, value = conn.recv()
                        except (EOFError, OSError):
                            status, value = "lost", None
                        if status != "lost":
                            slot[1] = None
                            yield job, (value if status == "ok" else ("error", value))
                            continue
                    elif proc.sentinel not in ready:
                        continue
                    proc.join(timeout=5)  # it died: replace it, hand back its job
                    del self.procs[conn]
                    conn.close()
                    yield job, Lost(job, proc.exitcode)
        finally:
            self.close()

    def _busy(self) -> int:
        return sum(1 for _, job in self.procs.values() if job is not None)

    def close(self) -> None:
        """Stop every worker; a busy one gets SIGTERM, so it removes its box on the way out."""
        for conn, (proc, job) in list(self.procs.items()):
            try:
                if job is None:
                    conn.send(None)
                else:
                    proc.terminate()
            except (OSError, ValueError):
                pass
        for conn, (proc, _) in list(self.procs.items()):
            proc.join(timeout=20)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
            conn.close()
        self.procs = {}
