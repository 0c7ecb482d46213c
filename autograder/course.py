"""The nbgrader course the grades go to: its folders, its configuration, its gradebook.

Either the grader's own course under ``OUT/course`` (made from ``solutions/``, kept between
runs) or an instructor's existing course (``--course DIR``: its ``submitted/``, its
``nbgrader_config.py``, its gradebook). Only the main process touches the gradebook.

Writing follows nbgrader's own autograder (``SaveAutoGrades``, ``AssignLatePenalties``):

- an autograded test gets its score as ``auto_score``; it needs a person only if a person had
  already scored it (then the new score is to be reviewed);
- a written answer left as released scores 0 with the comment "No response."; any other
  written answer waits for a person (``needs_manual_grade``);
- manual scores, manual comments and extra credit are never touched;
- the submission's timestamp comes from its ``timestamp.txt``; the late penalty is computed by
  nbgrader's ``AssignLatePenalties`` with the course's configured plugin and due date.
"""

from __future__ import annotations

import hashlib
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

from . import SOLUTIONS
from .build import nbgrader
from .records import Result


class CourseError(Exception):
    """The course folder cannot be graded into as it is; the message says what to do."""


def file_hash(*paths: Path) -> str:
    """One hash of several files' bytes (a missing file counts as '-')."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes() if p.is_file() else b"-")
    return h.hexdigest()


@dataclass
class Course:
    root: Path
    owned: bool  # made and kept by the grader (regenerated from solutions/), not the instructor's
    config: object = None  # the course's nbgrader configuration (traitlets Config)

    @classmethod
    def open(cls, root: Path, owned: bool) -> "Course":
        from traitlets.config import Config
        from traitlets.config.loader import PyFileConfigLoader

        config = Config()
        if (root / "nbgrader_config.py").is_file():
            config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
        return cls(root, owned, config)

    @property
    def db_url(self) -> str:
        from nbgrader.coursedir import CourseDirectory

        if self.owned:
            return f"sqlite:///{self.root}/gradebook.db"
        return CourseDirectory(config=self.config, root=str(self.root)).db_url

    def flags(self) -> list[str]:
        return [f"--CourseDirectory.root={self.root}", f"--CourseDirectory.db_url={self.db_url}"]

    # --- setting up ------------------------------------------------------------------------

    def prepare(self, aids: list[str], tests: dict[str, set[str]]) -> None:
        """Make sure the gradebook knows each assignment and its graded cells are ours."""
        if self.owned:
            (self.root / "source").mkdir(parents=True, exist_ok=True)
            for aid in aids:
                stamp = self.root / "source" / aid / ".grader-stamp"
                digest = file_hash(SOLUTIONS / aid / f"{aid}.ipynb")
                if stamp.exists() and stamp.read_text() == digest and (self.root / "gradebook.db").exists():
                    continue
                shutil.rmtree(self.root / "source" / aid, ignore_errors=True)
                shutil.copytree(SOLUTIONS / aid, self.root / "source" / aid)
                nbgrader("generate_assignment", aid, "--force", *self.flags(), cwd=self.root)
                stamp.write_text(digest)
            return
        from nbgrader.api import Gradebook, MissingEntry

        for aid in aids:
            with Gradebook(self.db_url) as gb:
                try:
                    cells = {c.name for c in gb.find_notebook(aid, aid).grade_cells}
                except MissingEntry:
                    cells = None
            if cells is None:
                if not (self.root / "source" / aid / f"{aid}.ipynb").is_file():
                    raise CourseError(f"{self.root} has no assignment {aid}: copy solutions/{aid} into "
                                      f"{self.root}/source/ and run `nbgrader generate_assignment {aid}` there.")
                nbgrader("generate_assignment", aid, *self.flags(), cwd=self.root)
                continue
            if not tests[aid] <= cells:
                raise CourseError(
                    f"The graded cells of {aid} in {self.root} are not this course's "
                    f"(missing: {', '.join(sorted(tests[aid] - cells))}). Copy solutions/{aid} into "
                    f"{self.root}/source/ and run `nbgrader generate_assignment {aid} --force` there.")

    def keep(self, student: str, aid: str, folder: Path, notebook: Path | None) -> None:
        """What nbgrader's own collect and autograde would leave: the grader's own course keeps
        what it graded in submitted/ (the formgrader lists submissions from there), and
        autograded/ gets the submission's other files, as nbgrader's autograde copies them
        (``timestamp.txt`` and ``submission_secret.txt`` are what ``generate_feedback`` and
        ``release_feedback`` read). Only small regular files are copied, never links."""
        extras = [p for p in sorted(folder.iterdir()) if p.suffix != ".ipynb" and p.is_file()
                  and not p.is_symlink() and p.stat().st_size <= 2**20] if folder.is_dir() else []
        targets = [self.root / "autograded" / student / aid]
        if self.owned:
            dest = self.root / "submitted" / student / aid
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir(parents=True)
            if notebook is not None:
                shutil.copyfile(notebook, dest / f"{aid}.ipynb")
            targets.append(dest)
        for target in targets:
            target.mkdir(parents=True, exist_ok=True)
            for extra in extras:
                shutil.copyfile(extra, target / extra.name)

    # --- the gradebook -----------------------------------------------------------------------

    def submissions(self) -> set[tuple[str, str]]:
        """(assignment, student) of every submission the gradebook holds, in one session."""
        from nbgrader.api import Gradebook

        with Gradebook(self.db_url) as gb:
            return {(a.name, sub.student_id) for a in gb.assignments
                    for sub in gb.assignment_submissions(a.name)}

    def write(self, results: list[Result], answer_ids: dict[str, set[str]]) -> None:
        """Record each result as nbgrader's autograder would (see the module docstring)."""
        from nbgrader.api import Gradebook
        from nbgrader.utils import parse_utc

        with Gradebook(self.db_url) as gb, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notes on nbgrader's own code
            for r in results:
                gb.update_or_create_student(r.student)
                if r.timestamp:
                    gb.update_or_create_submission(r.assignment, r.student, timestamp=parse_utc(r.timestamp))
                else:
                    gb.update_or_create_submission(r.assignment, r.student)
                nb = gb.find_submission_notebook(r.assignment, r.assignment, r.student)
                for grade in nb.grades:
                    if grade.name in r.manual:
                        grade.auto_score = 0.0 if grade.name in r.unanswered else None
                        grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
                    else:
                        grade.auto_score = float(r.tests.get(grade.name, 0.0))
                        grade.needs_manual_grade = grade.manual_score is not None
                for comment in nb.comments:
                    if comment.name in answer_ids.get(r.assignment, ()):
                        comment.auto_comment = "No response." if comment.name in r.unanswered else None
                gb.db.commit()
        for r in results:
            self._late_penalty(r)

    def _late_penalty(self, r: Result) -> None:
        """nbgrader's own late-penalty step, with the course's plugin and due date."""
        import nbformat
        from nbgrader.preprocessors import AssignLatePenalties

        resources = {"nbgrader": {"notebook": r.assignment, "assignment": r.assignment,
                                  "student": r.student, "db_url": self.db_url}}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            AssignLatePenalties(config=self.config).preprocess(nbformat.v4.new_notebook(), resources)

    def read(self, aids: list[str], manual: dict[str, dict[str, float]]) -> list[Result]:
        """Every submission the gradebook holds for these assignments, with its scores."""
        from nbgrader.api import Gradebook

        from nbgrader.api import MissingEntry

        results = []
        with Gradebook(self.db_url) as gb:
            for aid in aids:
                try:
                    gb.find_assignment(aid)
                except MissingEntry:
                    continue  # not in this course (yet)
                for sub in gb.assignment_submissions(aid):
                    nb = sub.notebooks[0]
                    tests, by_person = {}, {}
                    for g in nb.grades:
                        if g.name in manual[aid]:
                            by_person[g.name] = g.manual_score if g.manual_score is not None else (
                                None if g.needs_manual_grade or g.auto_score is None else g.auto_score)
                        else:
                            tests[g.name] = float(g.score)
                    penalty = float(sub.late_submission_penalty or 0.0)
                    results.append(Result(
                        sub.student_id, aid, float(nb.score) - penalty, float(nb.max_score), tests=tests,
                        auto_score=sum(tests.values()), auto_max=float(nb.max_score) - sum(manual[aid].values()),
                        manual=by_person, manual_max=sum(manual[aid].values()),
                        awaiting=[k for k, v in by_person.items() if v is None], late_penalty=penalty,
                        timestamp=sub.timestamp.isoformat() if sub.timestamp else None))
        return results

    def export(self, target: Path) -> None:
        """nbgrader's own CSV export of the gradebook (its export plugin, in this process)."""
        from nbgrader.api import Gradebook
        from nbgrader.plugins.export import CsvExportPlugin

        with Gradebook(self.db_url) as gb:
            CsvExportPlugin(to=str(target)).export(gb)
