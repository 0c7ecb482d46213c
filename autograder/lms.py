"""A learning-management system's download: flat files named after the student, in nbgrader's
layout for grading.

Canvas names each file ``<student>_<user id>_<submission id>_<file name>`` (``_late_`` after the
student when it came in late; ``-1``, ``-2`` after the file name for re-uploads), for example
``lastfirst_12345_67890_03_qkv_by_hand.ipynb``. That is the default pattern; another LMS's is
given with ``--lms-pattern``: a regular expression with the named groups ``student`` and
``assignment`` (or ``file``, a file name that contains the assignment id).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

CANVAS = r"^(?P<student>[^_/]+)_(?:late_|LATE_)?\d+_\d+_(?P<file>.+)\.ipynb$"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def _assignment(name: str, known: list[str]) -> str | None:
    name = re.sub(r"-\d+$", "", name)  # a re-upload: 03_qkv_by_hand-1
    if name in known:
        return name
    inside = [aid for aid in known if aid in name]
    return max(inside, key=len) if inside else None


def stage(folder: Path, known: list[str], pattern: str, staging: Path) -> tuple[Path, list[str]]:
    """Copy the flat files of ``folder`` into ``staging/<student>/<assignment>/<assignment>.ipynb``;
    returns (staging, notes). Files that match no student or assignment are listed in the notes."""
    regex = re.compile(pattern)
    if "student" not in regex.groupindex or not {"assignment", "file"} & set(regex.groupindex):
        raise ValueError("an LMS pattern needs the named groups 'student' and 'assignment' (or 'file')")
    files = sorted(p for p in folder.rglob("*.ipynb") if p.is_file() and not p.is_symlink()
                   and ".ipynb_checkpoints" not in p.parts)
    chosen: dict[tuple[str, str], tuple[int, Path]] = {}
    notes = []
    for path in files:
        m = regex.match(path.name)
        groups = m.groupdict() if m else {}
        aid = groups.get("assignment") or (_assignment(groups["file"], known) if groups.get("file") else None)
        if not m or aid not in known:
            notes.append(f"{path.name}: not an LMS file name with a student and a known assignment; skipped")
            continue
        student = _SAFE.sub("_", groups["student"]).strip("._") or "unnamed"
        upload = re.search(r"-(\d+)$", groups.get("file") or "")
        rank = int(upload.group(1)) if upload else 0  # Canvas numbers re-uploads -1, -2, ...
        key = (student, aid)
        if key in chosen:
            latest = max(chosen[key], (rank, path))[1]
            notes.append(f"{student} submitted {aid} more than once; the latest upload ({latest.name}) "
                         "is graded")
            if (rank, path) < chosen[key]:
                continue
        chosen[key] = (rank, path)
    for (student, aid), (_, path) in chosen.items():
        dest = staging / student / aid
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest / f"{aid}.ipynb")
    return staging, notes
