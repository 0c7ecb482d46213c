"""nbclient's NotebookClient, made robust against a lost wake-up on the kernel's sockets.

Now and then (seen here about once in ten runs, more often right after a widget cell) a
reply sits in the client's socket while nbclient's single long ``poll`` never wakes up, so a
cell that finished in a second is reported as timed out two minutes later (nbclient issue
#312). A grader must never blame a student for that. Polling in short slices until the
same deadline asks the socket afresh each time, and a fresh poll sees the waiting message.
"""

from __future__ import annotations

from queue import Empty
from time import monotonic

from nbclient import NotebookClient

SLICE = 0.5  # seconds per poll; the deadline is unchanged


def _poll_in_slices(channel) -> None:
    get_msg = channel.get_msg

    async def sliced(timeout: float | None = None):
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            left = SLICE if deadline is None else max(0.0, min(SLICE, deadline - monotonic()))
            try:
                return await get_msg(timeout=left)
            except Empty:
                if deadline is not None and monotonic() >= deadline:
                    raise

    channel.get_msg = sliced


class SteadyClient(NotebookClient):
    """A NotebookClient whose shell and IOPub channels poll in short slices."""

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        _poll_in_slices(kc.shell_channel)
        _poll_in_slices(kc.iopub_channel)
        return kc
