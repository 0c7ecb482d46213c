"""Two audiences, one repository: students get no instructor tools and, for a graded class, no answers.

`make lab` and the Binder image start JupyterLab without nbgrader's instructor extensions
(`make formgrader` has them); `make student-release DEST=...` writes a students-only copy of the
course: no solutions, no hidden tests, no reference outputs, and it still runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import numpy as np
import pytest

from browser import serving
from conftest import ROOT, errors, execute, stderr_text

BIN = Path(sys.executable).parent
STUDENT_JUPYTER = ROOT / "jupyter-student"
# What a students' copy holds at its top level, and nothing else.
COPY_TOP = {".gitignore", "Makefile", "README.md", "attnlab", "constraints.txt", "data", "environment.yml",
            "jupyter-student", "notebooks", "postBuild", "pyproject.toml", "requirements-nodeps.txt",
            "requirements.txt", "setup.mk"}
# nbgrader's instructor pages; each answers on a server with its extensions loaded.
NBGRADER_PAGES = ["/formgrader", "/formgraders", "/courses", "/assignments"]


# --- a real JupyterLab, and what it serves ------------------------------------------------------

def what_lab_offers(get) -> dict:
    """The nbgrader parts a JupyterLab page would load, and nbgrader's pages that answer."""
    status, html = get("/lab")
    assert status == 200
    page = json.loads(re.search(rb'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                html, flags=re.S).group(1))
    status, body = get("/lab/api/extensions")
    assert status == 200
    listed = {e["name"]: e["enabled"] for e in json.loads(body)}
    return {
        # installed: its files are served either way, so a test that sees it off is not vacuous
        "installed": "@jupyter/nbgrader" in [e["name"] for e in page["federated_extensions"]],
        "disabled": "@jupyter/nbgrader" in page["disabledExtensions"],
        "enabled in the extension manager": listed.get("jupyter-nbgrader"),
        "pages": {path: get(path)[0] for path in NBGRADER_PAGES},
    }


STUDENT_VIEW = {"installed": True, "disabled": True, "enabled in the extension manager": False,
                "pages": {path: 404 for path in NBGRADER_PAGES}}
LAB_ARGS = ["PORT={port}", "TOKEN={token}"]


@pytest.mark.slow
def test_make_lab_has_no_instructor_extensions(tmp_path):
    with serving(["make", "-s", "lab", *LAB_ARGS], ROOT, tmp_path / "lab.log") as get:
        assert what_lab_offers(get) == STUDENT_VIEW
        status, listing = get("/api/contents/notebooks")
        assert status == 200 and json.loads(listing)["content"]


@pytest.mark.slow
def test_make_formgrader_has_them_for_the_instructor(tmp_path):
    # In a copy of the course: the formgrader writes its gradebook.db into the course folder.
    course, venv = tmp_path / "course", Path(sys.prefix)
    shutil.copytree(ROOT, course, ignore=shutil.ignore_patterns(
        ".venv", ".git", "grading", "test-output", ".pytest_cache", "__pycache__", "*.egg-info", "gradebook.db"))
    command = ["make", "-s", "-o", f"{venv}/.course-installed", f"VENV={venv}", "formgrader", *LAB_ARGS]
    with serving(command, course, tmp_path / "lab.log") as get:
        offers = what_lab_offers(get)
        assert offers["installed"] and not offers["disabled"] and offers["enabled in the extension manager"]
        # The formgrader answers and sees this folder as nbgrader's course (source: solutions/).
        assert offers["pages"]["/formgrader"] == 200
        status, body = get("/formgrader/api/assignments")
        assert status == 200
        names = {a["name"] for a in json.loads(body)}
        assert {p.name for p in (ROOT / "solutions").iterdir() if p.is_dir()} <= names
    assert (course / "gradebook.db").exists()


def postbuild_disables() -> tuple[set[str], set[str]]:
    """(lab extensions, server extensions) postBuild turns off in the Binder image."""
    text = (ROOT / "postBuild").read_text().replace("\\\n", " ")
    lab = re.findall(r"^jupyter labextension disable --level=sys_prefix (.+)$", text, flags=re.M)
    server = re.findall(r"^jupyter server extension disable --sys-prefix (.+)$", text, flags=re.M)
    assert len(lab) == 1 and len(server) == 1, "postBuild must disable nbgrader's extensions in the image"
    return set(lab[0].split()), set(server[0].split())


def test_make_lab_and_binder_turn_off_every_nbgrader_extension():
    """jupyter-student/ (make lab) and postBuild (Binder) name the same extensions: all nbgrader installs."""
    from jupyter_server.extension.config import ExtensionConfigManager

    installed_server = {name for name in ExtensionConfigManager(
        read_config_path=[str(Path(sys.prefix) / "etc" / "jupyter")]).get_jpserver_extensions()
        if name.startswith("nbgrader")}
    installed_lab = {json.loads(p.read_text())["name"] for p in
                     (Path(sys.prefix) / "share" / "jupyter" / "labextensions").glob("**/package.json")
                     if "nbgrader" in json.loads(p.read_text())["name"]}
    assert installed_server and installed_lab
    page = json.loads((STUDENT_JUPYTER / "labconfig" / "page_config.json").read_text())
    server = json.loads((STUDENT_JUPYTER / "jupyter_server_config.d" / "students.json").read_text())
    assert {k for k, v in page["disabledExtensions"].items() if v} == installed_lab
    assert {k for k, v in server["ServerApp"]["jpserver_extensions"].items() if v is False} == installed_server
    assert postbuild_disables() == (installed_lab, installed_server)


# --- the students-only copy ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("student-release") / "class"
    proc = subprocess.run(["make", "-s", "student-release", f"DEST={dest}"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # It says what it wrote and what it left out.
    assert f"into {dest}" in proc.stdout and "notebooks/ (7 files)" in proc.stdout
    assert re.search(r"left out: .*\bsolutions\b", proc.stdout) and "data/reference" in proc.stdout
    return dest


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and ".git" not in p.relative_to(folder).parts)


def test_the_copy_holds_what_students_need_and_nothing_else(copy):
    assert {p.name for p in copy.iterdir()} == COPY_TOP
    for release in (ROOT / "notebooks").glob("*/*.ipynb"):
        assert (copy / release.relative_to(ROOT)).read_bytes() == release.read_bytes()
    assert sorted(p.name for p in (copy / "notebooks").iterdir()) == sorted(
        p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())
    assert (copy / "data" / "embeddings.npz").read_bytes() == (ROOT / "data" / "embeddings.npz").read_bytes()
    assert sorted(p.name for p in (copy / "data").iterdir()) == ["embeddings.npz"]
    assert os.access(copy / "postBuild", os.X_OK)
    assert not list(copy.rglob("__pycache__"))


def test_the_copy_gives_no_answer_away(copy):
    texts = {p: p.read_bytes().decode("utf-8", errors="replace") for p in files_in(copy) if p.suffix != ".npz"}
    for path, text in texts.items():
        for marker in ("### BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in text, f"{path.relative_to(copy)} holds {marker!r}"
    notebooks = {p.stem: nbformat.read(p, as_version=4) for p in copy.rglob("*.ipynb")}
    assert len(notebooks) == 7
    for name, nb in notebooks.items():
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert not re.search(r"check_reference\s*\(", code), f"{name} calls check_reference"
    # No answer survives without its markers: no solution block is whole in its own release.
    # (A later notebook may hand out an earlier exercise as a given helper, softmax from 03 in 04.)
    blocks = 0
    for solution in (ROOT / "solutions").glob("*/*.ipynb"):
        released = "\n".join(c.source for c in notebooks[solution.stem].cells)
        for cell in nbformat.read(solution, as_version=4).cells:
            for block in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, flags=re.S):
                lines = [ln.strip() for ln in block.splitlines() if len(ln.strip()) > 20]
                blocks += bool(lines)
                # One line may be shared with the lesson's prose or scaffolding; a whole answer may not.
                assert not lines or not all(ln in released for ln in lines), f"{solution.name}: {lines}"
    assert blocks > 20
    # No reference array under any name: no file with a reference file's keys or bytes (nor a
    # solved sample's: the empty samples are the releases themselves).
    private = {hashlib.sha256(p.read_bytes()).hexdigest()
               for d in ("reference", "samples/perfect") for p in (ROOT / "data" / d).rglob("*") if p.is_file()}
    assert private
    for path in files_in(copy):
        assert hashlib.sha256(path.read_bytes()).hexdigest() not in private, path
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                assert [k for k in f.files if "/out/" in k or k == "__manifest__"] == [], path


@pytest.mark.slow
def test_a_release_runs_from_the_copy_up_to_its_stubs(copy, monkeypatch):
    """01_embeddings, in a fresh kernel, with attnlab and the data from the copy (not this repository)."""
    path = copy / "notebooks" / "01_embeddings" / "01_embeddings.ipynb"
    nb = nbformat.read(path, as_version=4)
    where = ("import attnlab, attnlab.data\n"
             "print('ATTNLAB', attnlab.__file__)\nprint('DATA', attnlab.data.data_dir())")
    nb.cells.insert(0, nbformat.v4.new_code_cell(where))
    # As the copy's own `make lab` would (pip install -e . of the copy): attnlab from the copy.
    monkeypatch.setenv("PYTHONPATH", str(copy))
    monkeypatch.delenv("ATTNLAB_DATA", raising=False)
    nb = execute(nb, path.parent)
    printed = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert f"ATTNLAB {copy / 'attnlab' / '__init__.py'}" in printed, printed
    assert f"DATA {copy / 'data'}" in printed, printed
    found = errors(nb)
    assert found and found[0][1] == "NotImplementedError", found  # it reached the first stub
    assert {e[1] for e in found} <= {"NotImplementedError", "NameError"}, found
    assert stderr_text(nb) == ""
    # The cells before the first stub ran: the embeddings loaded from the copy's data.
    first_stub = next(i for i, c in enumerate(nb.cells) if any(o.output_type == "error" for o in c.get("outputs", [])))
    assert any("sentences ->" in o.get("text", "") for c in nb.cells[:first_stub] for o in c.get("outputs", []))


def make_n(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-n", *args], cwd=cwd, capture_output=True, text=True)


def test_make_lab_in_the_copy_installs_as_the_course_does(copy, tmp_path):
    proc = make_n("lab", cwd=copy)
    assert proc.returncode == 0, proc.stderr
    assert f"JUPYTER_CONFIG_PATH='{copy / 'jupyter-student'}" in proc.stdout
    assert "jupyter lab" in proc.stdout and "--LabApp.default_url=/lab/tree/notebooks" in proc.stdout
    # The same install steps, command for command, as the full course's `make lab`.
    venv = tmp_path / "v"
    steps = [make_n("-B", f"VENV={venv}", f"{venv}/.course-installed", cwd=d).stdout for d in (ROOT, copy)]
    assert " -m pip install " in steps[0] and steps[0] == steps[1]
    # Only what a student needs: the instructor's targets are not there.
    for target in ("test", "release", "grade", "formgrader", "student-release"):
        assert make_n(target, cwd=copy).returncode != 0, target
    help_text = subprocess.run(["make", "-s"], cwd=copy, capture_output=True, text=True).stdout
    assert re.findall(r"^make (\S+)", help_text, flags=re.M) == ["lab", "clean"]


@pytest.mark.slow
def test_make_lab_in_the_copy_serves_its_notebooks_without_instructor_extensions(copy, tmp_path):
    # This venv, never rebuilt (-o): the copy's install steps are the course's (test above).
    venv = Path(sys.prefix)
    command = ["make", "-s", "-o", f"{venv}/.course-installed", f"VENV={venv}", "lab", *LAB_ARGS]
    with serving(command, copy, tmp_path / "lab.log") as get:
        assert what_lab_offers(get) == STUDENT_VIEW
        status, listing = get("/api/contents/notebooks")
        assert status == 200
        assert sorted(c["name"] for c in json.loads(listing)["content"]) == sorted(
            p.name for p in (copy / "notebooks").iterdir())
        assert get("/api/contents/solutions")[0] == 404


def test_the_students_readme(copy):
    readme = (copy / "README.md").read_text()
    full = (ROOT / "README.md").read_text()
    students = full.split("## For students", 1)[1].split("\n## ", 1)[0].strip()
    assert students in readme and readme.startswith(full.splitlines()[0] + "\n")
    # Every command it names works in the copy, every file it names is there.
    commands = set(re.findall(r"\bmake (\w[\w-]*)", readme))
    assert commands == {"lab"}
    for target in commands:
        assert make_n(target, cwd=copy).returncode == 0, target
    for name in re.findall(r"`?([\w.-]+\.(?:txt|toml|yml|ipynb))", readme):
        assert list(copy.rglob(name)), f"the README names {name}, which the copy does not have"
    assert "solutions" not in readme and "mybinder.org" not in readme and "make test" not in readme


def test_publishing_the_copy_with_git_publishes_every_file(copy, tmp_path):
    """Its .gitignore must not hide a file the course needs (data/embeddings.npz, say)."""
    clone = tmp_path / "clone"
    shutil.copytree(copy, clone)
    subprocess.run(["git", "init", "-q"], cwd=clone, check=True)
    subprocess.run(["git", "add", "-A"], cwd=clone, check=True)
    tracked = subprocess.run(["git", "ls-files"], cwd=clone, capture_output=True, text=True, check=True)
    assert sorted(tracked.stdout.split()) == sorted(str(p.relative_to(clone)) for p in files_in(clone))


def build(dest: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder.build", "student-release", str(dest), *flags],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_a_non_empty_folder_is_refused_unless_forced(tmp_path):
    dest = tmp_path / "class"
    (dest / ".git").mkdir(parents=True)
    (dest / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (dest / "solutions").mkdir()
    (dest / "solutions" / "old.ipynb").write_text("{}")
    proc = build(dest)
    assert proc.returncode == 2 and "not empty" in proc.stderr and "--force" in proc.stderr
    assert sorted(p.name for p in dest.iterdir()) == [".git", "solutions"]  # untouched
    proc = build(dest, "--force")
    assert proc.returncode == 0, proc.stderr
    # Replaced: nothing stale is left, and the publishing repository keeps its history.
    assert {p.name for p in dest.iterdir()} == COPY_TOP | {".git"}
    assert (dest / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"


def test_the_course_itself_is_never_a_destination():
    inside = ROOT / "notebooks" / "student-release-test"
    try:
        # Never with --force here: were the check broken, that would empty the course.
        for dest in (ROOT, ROOT.parent, inside):
            proc = build(dest)
            assert proc.returncode == 2 and "choose another folder" in proc.stderr, (dest, proc.stderr)
        assert not inside.exists()
    finally:
        shutil.rmtree(inside, ignore_errors=True)


# --- Binder -------------------------------------------------------------------------------------

def test_binder_builds_the_copy_and_runs_its_postbuild(copy):
    """The copy is a Binder repository too: repo2docker builds it and runs postBuild after the environment."""
    proc = subprocess.run([str(BIN / "repo2docker"), "--no-build", "--debug", str(copy)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dockerfile = proc.stdout + proc.stderr
    assert dockerfile.index('--file "environment.yml"') < dockerfile.index("RUN ./postBuild")


def image_like(tmp_path: Path) -> tuple[Path, dict]:
    """An environment of its own (its own sys.prefix, as Binder's conda env) with this venv's packages,
    its Jupyter config as installed and console scripts that run in it; and a fresh user's env vars."""
    prefix = tmp_path / "image"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    site = subprocess.run([str(prefix / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "course-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    shutil.copytree(Path(sys.prefix) / "etc" / "jupyter", prefix / "etc" / "jupyter")
    (prefix / "share").symlink_to(Path(sys.prefix) / "share")
    for script in BIN.glob("jupyter*"):
        first, rest = script.read_text().split("\n", 1)
        if first.startswith("#!") and first.endswith("python"):
            (prefix / "bin" / script.name).write_text(f"#!{prefix / 'bin' / 'python'}\n{rest}")
            (prefix / "bin" / script.name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "JUPYTER_CONFIG_PATH")}
    env.update(PATH=f"{prefix / 'bin'}{os.pathsep}{env['PATH']}", JUPYTER_CONFIG_DIR=str(tmp_path / "user-config"),
               JUPYTER_DATA_DIR=str(tmp_path / "user-data"))
    return prefix, env


def nbgrader_server_extensions(env: dict) -> str:
    out = subprocess.run(["jupyter", "server", "extension", "list"], env=env, capture_output=True, text=True)
    return re.sub(r"\x1b\[\d+m", "", out.stdout + out.stderr)


@pytest.mark.slow
def test_binder_postbuild_turns_off_the_instructor_extensions(copy, tmp_path):
    """Run the copy's postBuild as repo2docker does, in an environment like the image's; then serve it."""
    prefix, env = image_like(tmp_path)
    assert "nbgrader.server_extensions.formgrader enabled" in nbgrader_server_extensions(env)  # as installed
    proc = subprocess.run(["bash", "./postBuild"], cwd=copy, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Signing notebook: notebooks/01_embeddings/01_embeddings.ipynb" in proc.stdout
    assert "nbgrader.server_extensions.formgrader disabled" in nbgrader_server_extensions(env)
    command = [str(prefix / "bin" / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", "--port={port}",
               "--IdentityProvider.token={token}", "--allow-root", f"--ServerApp.root_dir={copy}"]
    with serving(command, copy, tmp_path / "lab.log", env=env) as get:
        assert what_lab_offers(get) == STUDENT_VIEW
