"""Write constraints.txt: every package the course and its tests install, pinned.

    make lock        (runs: python3.11 scripts/lock.py)

Resolves requirements.txt + requirements-test.txt (and pip itself) afresh, with pip's own
resolver and no constraints, on this interpreter, and pins every package of the result.
The packages of requirements-nodeps.txt are installed with --no-deps (the course uses only
their files), so their own dependencies are not resolved: they are pinned as listed, the
script checks that what they need from the rest is there in a version they accept, and the
lock says what is left out.

PyTorch's CPU wheel index is used if it answers (one probe, 5 s); where it does not (an
offline mirror), pip's configured indexes must offer the CPU build: a resolution that pulls
CUDA packages (nvidia-*, triton) is refused.

Then the new lock is resolved for Windows and macOS (with uv, metadata only) to show that it
installs there too, and which packages only those systems add.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

try:
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet
except ImportError:  # a bare interpreter: pip carries its own copy
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "constraints.txt"
RESOLVED = ["requirements.txt", "requirements-test.txt"]  # resolved with their dependencies
NODEPS = "requirements-nodeps.txt"  # installed with --no-deps
INPUTS = [*RESOLVED, NODEPS]
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PYTHON = (3, 11)  # environment.yml's python=3.11; the pins are for this version
# torch 2.13.0 has wheels for Linux (x86_64, aarch64), macOS 14+ on Apple silicon, Windows x86_64.
OTHER_PLATFORMS = {"Windows": ("x86_64-pc-windows-msvc", {}),
                   "macOS": ("aarch64-apple-darwin", {"MACOSX_DEPLOYMENT_TARGET": "14.0"})}
UV = "uv==0.13.9"  # only for that check: pip cannot evaluate another system's markers


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def inputs_digest(root: Path = ROOT) -> str:
    """sha256 over the requirement files the lock is made from (tests compare it)."""
    h = hashlib.sha256()
    for name in INPUTS:
        h.update(name.encode() + b"\0" + (root / name).read_bytes() + b"\0")
    return h.hexdigest()


def pins_of(text: str) -> dict[str, str]:
    """``name == version`` lines of a requirements file (options and comments skipped)."""
    out = {}
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            out[canonical(name.strip())] = version.strip()
    return out


def pins(path: Path) -> dict[str, str]:
    return pins_of(path.read_text())


def public(version: str) -> str:
    """2.13.0+cpu -> 2.13.0: the lock pins public versions, so every system's build matches."""
    return version.split("+")[0]


def torch_index_reachable() -> bool:
    try:
        urllib.request.urlopen(f"{TORCH_CPU_INDEX}/torch/", timeout=5).close()
        return True
    except OSError:
        return False


def resolve(pip: list[str], args: list[str]) -> list[dict]:
    """pip's resolution of ``args``, as the items of its report (nothing is installed)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run([*pip, "install", "--dry-run", "--ignore-installed", "--quiet",
                        "--report", str(report), *args], cwd=ROOT, check=True)
        return json.loads(report.read_text())["install"]


def requirements(item: dict) -> list[Requirement]:
    """The dependencies a resolved package declares that apply on this interpreter."""
    reqs = [Requirement(r) for r in item["metadata"].get("requires_dist") or []]
    return [r for r in reqs if r.marker is None or r.marker.evaluate({"extra": ""})]


def oldest_python(items: list[dict]) -> str:
    """The oldest 3.11.x every resolved package accepts (soupsieve, for one, wants 3.11.5)."""
    for micro in range(50):
        version = f"{PYTHON[0]}.{PYTHON[1]}.{micro}"
        if all(SpecifierSet(i["metadata"].get("requires_python") or "").contains(version)
               for i in items):
            return version
    sys.exit(f"make lock: the resolution accepts no Python {PYTHON[0]}.{PYTHON[1]}.x")


def lock_entries(items: list[dict], nodeps: list[dict]) -> dict[str, list[str]]:
    """``name -> [pin line, comment lines]`` for every package, with pip-compile's `# via`."""
    resolved = {canonical(i["metadata"]["name"]): i for i in items}
    cuda = sorted(n for n in resolved if n.startswith("nvidia-") or n == "triton")
    if cuda:
        sys.exit(f"make lock: torch resolved to a CUDA build (it pulls {', '.join(cuda[:3])}, ...). "
                 f"Make {TORCH_CPU_INDEX} reachable, or offer torch's CPU wheel to pip.")
    via: dict[str, set[str]] = {n: set() for n in resolved}
    for name in RESOLVED:
        for pinned in pins(ROOT / name):
            via[pinned].add(name)
    for item in items:
        for req in requirements(item):
            if canonical(req.name) in resolved:
                via[canonical(req.name)].add(item["metadata"]["name"])
    via["pip"].add("make lab (installs it first)")
    entries = {n: [f"{n}=={public(i['metadata']['version'])}",
                   f"    # via {', '.join(sorted(via[n], key=str.lower))}"]
               for n, i in resolved.items()}
    for item in nodeps:
        name, left_out = canonical(item["metadata"]["name"]), []
        for req in requirements(item):
            have = resolved.get(canonical(req.name))
            if have is None:
                left_out.append(req.name)
            elif not req.specifier.contains(public(have["metadata"]["version"]), prereleases=True):
                sys.exit(f"make lock: {name} needs {req}; the lock has {have['metadata']['version']}")
        entries[name] = [f"{name}=={item['metadata']['version']}",
                         f"    # via {NODEPS}: installed with --no-deps; not installed: "
                         f"{', '.join(left_out) or 'nothing'}"]
    return entries


def write(entries: dict[str, list[str]], python: str, systems: list[str]) -> None:
    header = [
        "# The whole environment of the course and its tests, pinned. pip reads this file as",
        "# constraints (-c, from requirements.txt), so `make lab`, `make test`, the README's",
        "# commands without make, and Binder (environment.yml, postBuild) install these versions.",
        "# GENERATED by `make lock` (scripts/lock.py): do not edit; change requirements*.txt, run",
        "# `make lock`, commit both. tests/test_setup.py checks it against its inputs and the venv.",
        f"# Resolved for CPython {python} or newer {PYTHON[0]}.{PYTHON[1]}, on {platform.system()} "
        f"{platform.machine()}. Constraints, not",
        "# requirements: a package that only Windows or macOS needs is not named here and still",
        "# installs there, unpinned; every package named is pinned on every system.",
        "# torch: pinned by its public version; 2.13.0 matches the CPU build 2.13.0+cpu.",
        *systems,
        f"# inputs sha256: {inputs_digest()}",
    ]
    LOCK.write_text("\n".join(header) + "\n"
                    + "".join("\n".join(entries[n]) + "\n" for n in sorted(entries)))


def check_other_platforms(venv: Path, python: str) -> list[str]:
    """Resolve the course and its tests with the new lock for Windows and macOS.

    uv, unlike ``pip --platform``, evaluates environment markers for the target system (pip
    would pull Linux's CUDA packages through PyPI torch's markers). It reads metadata only;
    nothing is installed. Returns one header line per system.
    """
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", UV], check=True)
    lines = []
    for system, (target, env) in OTHER_PLATFORMS.items():
        proc = subprocess.run(
            [str(venv / "bin" / "uv"), "pip", "compile", "--quiet", "--no-header", "--no-annotate",
             "--python-platform", target, "--python-version", python, *RESOLVED],
            cwd=ROOT, capture_output=True, text=True, env={**os.environ, **env})
        if proc.returncode:
            sys.exit(f"make lock: the new lock does not resolve for {system}:\n{proc.stderr}")
        extra = sorted(set(pins_of(proc.stdout)) - set(pins(LOCK)))
        lines.append(f"# {system} ({target}, Python {python}): resolves; adds, unpinned: "
                     f"{', '.join(extra) or 'nothing'}")
        print(f"make lock: {lines[-1][2:]}")
    return lines


def main() -> int:
    if sys.version_info[:2] != PYTHON:
        sys.exit(f"make lock: run it with Python {PYTHON[0]}.{PYTHON[1]}, the course's "
                 f"(`make lock PYTHON=python{PYTHON[0]}.{PYTHON[1]}`); this is {platform.python_version()}.")
    with tempfile.TemporaryDirectory() as tmp:
        # A throwaway venv with the newest pip: the resolution must not see what is installed
        # anywhere, nor the old constraints (requirements.txt reads them: copies without that line).
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip"]
        subprocess.run([*pip, "install", "--quiet", "--upgrade", "pip"], check=True)
        inputs = []
        for name in RESOLVED:
            copy = Path(tmp) / name
            copy.write_text("".join(line for line in (ROOT / name).read_text().splitlines(True)
                                    if not re.match(r"\s*-[rc]\s", line)))
            inputs += ["-r", str(copy)]
        index = []
        if torch_index_reachable():
            index = ["--extra-index-url", TORCH_CPU_INDEX]
        else:
            print(f"make lock: {TORCH_CPU_INDEX} is not reachable; taking torch from pip's "
                  "configured indexes (it must be the CPU build: checked).")
        items = resolve(pip, [*index, *inputs, "pip"])
        nodeps = resolve(pip, ["--no-deps", "-r", str(ROOT / NODEPS)])
        entries, python = lock_entries(items, nodeps), oldest_python(items + nodeps)
        write(entries, python, [])  # uv reads it (through requirements.txt) for the check
        write(entries, python, check_other_platforms(venv, python))
    print(f"make lock: wrote {LOCK.name}: {len(entries)} packages pinned "
          f"({len(items)} resolved, {len(nodeps)} installed with --no-deps).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
