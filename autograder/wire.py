"""Plain values across the sandbox boundary, in both directions, with every read bounded.

The grader sends a call's inputs to the student's kernel as ``.npy`` files plus a JSON
description (:func:`encode`); the kernel answers the same way (``kernel_side.py``). Anything
the kernel wrote is hostile until checked, so :class:`Reader`:

- opens files only as direct children of a directory it opened when the box was made
  (``dir_fd``), with ``O_NOFOLLOW``: a symlink, a FIFO or a directory planted by the kernel
  is refused, and so is a name with a ``/``;
- refuses files over a size limit before reading them;
- bounds every reply: its JSON size, nesting, string length, list length, the number of
  arrays it names and their total bytes, and the bytes read for the whole submission.

Over a bound, the value reads back as :class:`Opaque` (the call fails for that student only);
nothing is unpickled, ever.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Limits:
    reply_bytes: int = 2 * 2**20  # one JSON reply or capture
    depth: int = 20  # nesting of lists, tuples, dicts
    string: int = 10_000  # characters in one string
    items: int = 100_000  # elements of one list, tuple or dict
    arrays: int = 256  # arrays named by one reply
    reply_array_bytes: int = 256 * 2**20  # their total size
    submission_bytes: int = 1024 * 2**20  # everything read back for one submission


LIMITS = Limits()


class Opaque:
    """A value the grader could not (or would not) read back as plain data."""

    def __init__(self, what: str, over_limit: bool = False):
        self.what = what
        self.over_limit = over_limit  # refused by the grader's Limits, not just an odd value

    def __repr__(self):
        return f"<{self.what}, which the grader cannot read as plain data>"


class TooLarge(Exception):
    """A reply broke one of the :class:`Limits`."""


def open_child(dir_fd: int, name: str, max_bytes: int):
    """A file object for ``name`` directly inside the directory ``dir_fd``, or None.

    None if the name is not a plain file name, if it is a symlink, a directory, a FIFO or
    anything but a regular file, or if it is larger than ``max_bytes``.
    """
    if not name or "/" in name or name in (".", "..") or "\x00" in name:
        return None
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > max_bytes:
            os.close(fd)
            return None
    except OSError:
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


class Reader:
    """Reads what the kernel wrote into one directory, within :class:`Limits`."""

    def __init__(self, folder: Path, limits: Limits = LIMITS):
        self.folder = folder
        self.limits = limits
        self.dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        self.bytes_read = 0

    def close(self) -> None:
        if self.dir_fd >= 0:
            os.close(self.dir_fd)
            self.dir_fd = -1

    def json(self, name: str):
        """A JSON file's content, or None (missing, not a regular file, too large, not JSON)."""
        f = open_child(self.dir_fd, name, self.limits.reply_bytes)
        if f is None:
            return None
        with f:
            data = f.read(self.limits.reply_bytes + 1)
        try:
            return json.loads(data.decode("utf-8", errors="replace"))
        except (ValueError, RecursionError):
            return None

    def decode(self, desc):
        """The value a reply describes (see :func:`encode`), never more than the limits allow."""
        budget = {"arrays": 0, "bytes": 0}
        try:
            return self._decode(desc, 0, budget)
        except TooLarge as exc:
            return Opaque(f"reply over the grader's limits ({exc})", over_limit=True)

    def _decode(self, desc, depth: int, budget: dict):
        lim = self.limits
        if depth > lim.depth:
            raise TooLarge(f"nested deeper than {lim.depth}")
        if not isinstance(desc, dict):
            return Opaque("malformed value")
        t = desc.get("t")
        if t == "py":
            v = desc.get("v")
            if type(v) is str and len(v) > lim.string:
                raise TooLarge(f"a string longer than {lim.string} characters")
            if type(v) is int and abs(v) > 2**62:
                return Opaque("huge int")
            return v if v is None or type(v) in (bool, int, float, str) else Opaque("malformed value")
        if t in ("nd", "ndscalar"):
            return self._array(str(desc.get("f", "")), t == "ndscalar", budget)
        if t in ("list", "tuple") and isinstance(desc.get("v"), list):
            if len(desc["v"]) > lim.items:
                raise TooLarge(f"more than {lim.items} items")
            items = [self._decode(v, depth + 1, budget) for v in desc["v"]]
            return items if t == "list" else tuple(items)
        if t == "dict" and isinstance(desc.get("v"), dict):
            if len(desc["v"]) > lim.items:
                raise TooLarge(f"more than {lim.items} items")
            return {str(k)[: lim.string]: self._decode(v, depth + 1, budget) for k, v in desc["v"].items()}
        return Opaque(f"object of type {str(desc.get('type', '?'))[:60]}")

    def _array(self, name: str, scalar: bool, budget: dict):
        lim = self.limits
        budget["arrays"] += 1
        if budget["arrays"] > lim.arrays:
            raise TooLarge(f"more than {lim.arrays} arrays")
        left = min(lim.reply_array_bytes - budget["bytes"], lim.submission_bytes - self.bytes_read)
        f = open_child(self.dir_fd, name, max(left, 0))
        if f is None:
            if left <= 0:
                raise TooLarge("too many bytes of arrays")
            return Opaque("missing, oversized or irregular array file")
        with f:
            size = os.fstat(f.fileno()).st_size
            budget["bytes"] += size
            self.bytes_read += size
            try:
                arr = np.load(f, allow_pickle=False)
            except Exception:
                return Opaque("unreadable array")
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biufc":
            return Opaque("array of an unsupported type")
        return arr[()] if scalar and arr.ndim == 0 else arr


def encode(value, folder: Path, prefix: str, counter: list, depth: int = 0):
    """A JSON description of a plain value; arrays go to ``.npy`` files in ``folder``."""
    if depth > LIMITS.depth:
        return {"t": "opaque", "type": "deeply nested value"}
    if value is None or type(value) in (bool, int, float, str):
        return {"t": "py", "v": value}
    if isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)
        if arr.dtype.kind not in "biufc":
            return {"t": "opaque", "type": f"array of dtype {arr.dtype}"}
        name = f"{prefix}_{counter[0]}.npy"
        counter[0] += 1
        np.save(folder / name, arr, allow_pickle=False)
        return {"t": "ndscalar" if isinstance(value, np.generic) else "nd", "f": name}
    if type(value) in (list, tuple):
        return {"t": type(value).__name__,
                "v": [encode(v, folder, prefix, counter, depth + 1) for v in value]}
    if type(value) is dict and all(type(k) is str for k in value):
        return {"t": "dict", "v": {k: encode(v, folder, prefix, counter, depth + 1)
                                   for k, v in value.items()}}
    return {"t": "opaque", "type": type(value).__name__}


def call_key(fn: str, args, kwargs, err: dict) -> str:
    """A short hash that identifies one call: the function, its inputs, the numpy error state."""
    h = hashlib.sha256()

    def feed(v, depth=0):
        if depth > LIMITS.depth:
            h.update(b"deep")
        elif isinstance(v, (np.ndarray, np.generic)):
            a = np.asarray(v)
            h.update(f"nd{a.dtype.str}{a.shape}{isinstance(v, np.generic)}".encode())
            h.update(np.ascontiguousarray(a).tobytes() if a.dtype.kind in "biufc" else repr(a).encode())
        elif type(v) in (list, tuple):
            h.update(f"{type(v).__name__}{len(v)}[".encode())
            for x in v:
                feed(x, depth + 1)
            h.update(b"]")
        elif type(v) is dict:
            h.update(b"{")
            for k in sorted(v, key=str):
                h.update(repr(k).encode())
                feed(v[k], depth + 1)
            h.update(b"}")
        else:
            h.update(f"{type(v).__name__}:{v!r}".encode())

    h.update(fn.encode())
    feed(list(args))
    feed(dict(kwargs))
    h.update(json.dumps(err, sort_keys=True).encode())
    return h.hexdigest()[:24]
