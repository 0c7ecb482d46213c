"""The two-command setup and Binder read one pinned dependency list."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import ROOT


def pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            out[name.lower()] = version
    return out


def test_every_requirement_is_pinned_exactly():
    for file in ("requirements.txt", "requirements-test.txt"):
        for name, version in pins(ROOT / file).items():
            assert re.fullmatch(r"\d+(\.\d+)*", version), f"{file}: {name} is not pinned with =="


def test_torch_is_the_cpu_build_everywhere():
    assert pins(ROOT / "requirements.txt")["torch"] == "2.13.0"
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_lines = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in pip_lines


def test_binder_reads_the_same_requirements_and_pins_nothing_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip_lines = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-r requirements.txt" in pip_lines and "-e ." in pip_lines
    # Only the interpreter and pip come from conda; no package versions live here.
    assert sorted(re.split(r"[=<>]", d)[0] for d in conda) == ["pip", "python"]
    assert "python=3.11" in conda
    assert "numpy" not in (ROOT / "environment.yml").read_text()
    # The test requirements build on, and never re-pin, the course's.
    course, test = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-test.txt")
    assert "-r requirements.txt" in (ROOT / "requirements-test.txt").read_text()
    assert not set(course) & set(test)


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    for name, pinned in pins(ROOT / "requirements.txt").items():
        assert version(name).split("+")[0] == pinned, name


def test_repo2docker_builds_from_environment_yml():
    """`repo2docker --no-build --debug .` prints the Dockerfile Binder would build, offline."""
    exe = Path(sys.executable).parent / "repo2docker"
    proc = subprocess.run([str(exe), "--no-build", "--debug", str(ROOT)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dockerfile = proc.stdout + proc.stderr
    assert "Building conda environment for python=3.11" in dockerfile
    assert 'env update -p ${NB_PYTHON_PREFIX} --file "environment.yml"' in dockerfile
    # The repository is copied before the environment is built, so `-r requirements.txt` resolves.
    assert dockerfile.index("COPY --chown=0:0 src/ ${REPO_DIR}/") < dockerfile.index('--file "environment.yml"')
    # postBuild trusts the notebooks, after the environment exists.
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


def test_make_lab_serves_the_course(tmp_path):
    """`make lab` starts a JupyterLab that lists the student notebooks, with the given token."""
    import json
    import os
    import signal
    import time
    import urllib.request

    from browser import free_port

    port = free_port()
    proc = subprocess.Popen(["make", "-s", "lab", f"PORT={port}", "TOKEN=lab-test"], cwd=ROOT,
                            stdout=open(tmp_path / "lab.log", "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/api/contents/notebooks?token=lab-test"
        deadline = time.time() + 120
        while True:
            try:
                listing = json.load(urllib.request.urlopen(url, timeout=5))
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "lab.log").read_text()[-2000:]
                assert time.time() < deadline, "jupyter lab did not answer"
                time.sleep(0.5)
        from conftest import ASSIGNMENTS

        assert sorted(c["name"] for c in listing["content"] if c["type"] == "directory") == ASSIGNMENTS
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token=lab-test", timeout=10) as page:
            assert page.status == 200 and b"JupyterLab" in page.read()
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/notebooks?token=wrong", timeout=5)
            raise AssertionError("a wrong token was accepted")
        except urllib.error.HTTPError as err:
            assert err.code == 403
        assert f"http://127.0.0.1:{port}/lab" in (tmp_path / "lab.log").read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
