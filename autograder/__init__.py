"""Grading code for the course: reference outputs, releases, samples, and `make grade`.

- ``cases``     the inputs every exercise is checked on (seeded, so reproducible)
- ``mistakes``  known wrong implementations, so feedback can name the likely mistake
- ``notebooks`` reading nbgrader notebooks: solution cells, filling stubs
- ``build``     regenerate ``notebooks/`` (nbgrader), ``data/reference/`` and ``data/samples/``
- ``grade``     autograde a folder or zip of submissions with real nbgrader
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO_ROOT / "solutions"
RELEASES = REPO_ROOT / "notebooks"
DATA = REPO_ROOT / "data"


def assignments() -> list[str]:
    """Assignment ids, in lecture order (every folder of solutions/ with its notebook)."""
    return sorted(p.name for p in SOLUTIONS.iterdir() if (p / f"{p.name}.ipynb").exists())
