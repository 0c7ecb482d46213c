"""Driving a real JupyterLab in headless Chromium (Playwright), for tests/test_browser.py."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

HOW_TO_GET_A_BROWSER = (
    "No Chromium found for the browser tests. On Debian/Ubuntu run `make test` as root (it "
    "installs the `chromium` package) or `sudo apt-get install chromium`; elsewhere install "
    "Chrome/Chromium and set CHROMIUM=/path/to/the/browser."
)

# Flags for a quiet, sandbox-free headless Chromium that never phones home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def find_chromium() -> str | None:
    candidates = [os.environ.get("CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"),
                  shutil.which("google-chrome")]
    return next((c for c in candidates if c and Path(c).exists()), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(command, cwd: Path, log: Path, env: dict | None = None, timeout: float = 120,
            token: str = "attnlab-test"):
    """Run a command (a list, or a shell string) that starts a Jupyter server on the port and
    token it is given as ``{port}`` and ``{token}``; wait until it answers; yield a getter
    ``get(path) -> (status, body)`` whose ``port`` attribute is the port. Stops it afterwards."""
    import signal
    import urllib.error
    import urllib.request

    port = free_port()
    shell = isinstance(command, str)
    def fill(text: str) -> str:  # not str.format: the command may hold braces of its own
        return text.replace("{port}", str(port)).replace("{token}", token)
    command = fill(command) if shell else [fill(c) for c in command]
    proc = subprocess.Popen(command, cwd=cwd, env=env, shell=shell, stdout=open(log, "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)

    def get(path: str) -> tuple[int, bytes]:
        sep = "&" if "?" in path else "?"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}{sep}token={token}", timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as err:
            return err.code, b""
    get.port = port

    try:
        deadline = time.time() + timeout
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=5)
                break
            except OSError:
                assert proc.poll() is None, Path(log).read_text()[-3000:]
                assert time.time() < deadline, "the Jupyter server did not answer"
                time.sleep(0.5)
        yield get
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@contextmanager
def jupyter_lab(root: Path, log: Path):
    """A real `jupyter lab` serving ``root`` on a free local port; yields (base_url, token)."""
    bin_dir = Path(sys.executable).parent
    port, token = free_port(), "attnlab-test-token"
    settings = root / ".lab-settings"
    # Render every cell (not only those in view), so the test can read every prompt and output.
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True, exist_ok=True)
    tracker.write_text('{"windowingMode": "none"}')
    # No "get notified about Jupyter news?" pop-up over the screenshots.
    notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True, exist_ok=True)
    notification.write_text('{"fetchNews": "false"}')
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               JUPYTER_DATA_DIR=str(root / ".jupyter-data"), JUPYTER_CONFIG_DIR=str(root / ".jupyter-config"),
               JUPYTERLAB_SETTINGS_DIR=str(settings))
    # As `make lab` does: the course notebooks open trusted.
    subprocess.run([str(bin_dir / "jupyter"), "trust", *map(str, sorted(root.rglob("*.ipynb")))],
                   env=env, check=True, capture_output=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(bin_dir / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
             f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}", "--allow-root",
             "--LabApp.news_url=None"],
            env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"jupyter lab did not start; see {log}")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


class LabPage:
    """One notebook open in JupyterLab, with every non-local request aborted and recorded."""

    def __init__(self, page, base_url: str):
        self.page, self.base_url, self.blocked, self.actions = page, base_url, [], []
        page.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.base_url) or url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def open(self, rel_path: str, token: str):
        # A workspace of its own, reset: JupyterLab would otherwise reopen earlier tabs.
        workspace = rel_path.replace("/", "-").replace(".", "-")
        self.page.goto(f"{self.base_url}/lab/workspaces/{workspace}/tree/{rel_path}?reset&token={token}")
        self.page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
        # The execution indicator says "idle" before a kernel exists; the status bar knows better.
        self.page.wait_for_function(
            "() => /\\| Idle/.test(document.querySelector('#jp-main-statusbar').textContent)",
            timeout=90_000)
        self.wait_idle()

    def wait_idle(self, timeout: float = 180_000):
        """Until no cell is queued or running and the kernel reports idle."""
        self.page.wait_for_function(
            """() => !Array.from(document.querySelectorAll('.jp-InputArea-prompt'))
                        .some(e => e.textContent.includes('*'))
                  && document.querySelector(".jp-Notebook-ExecutionIndicator[data-status='idle']")""",
            timeout=timeout)

    def menu(self, menu: str, item: str):
        self.page.click(f"li.lm-MenuBar-item:has-text('{menu}')")
        self.page.click(f"li.lm-Menu-item:has-text('{item}')")
        self.actions.append(f"{menu} > {item}")
        self.page.wait_for_timeout(300)
        self.wait_idle()

    def code_cells(self):
        return self.page.locator(".jp-Notebook .jp-CodeCell")

    def unexecuted_code_cells(self) -> list[int]:
        prompts = self.page.eval_on_selector_all(
            ".jp-Notebook .jp-CodeCell .jp-InputArea-prompt", "els => els.map(e => e.textContent)")
        return [i for i, p in enumerate(prompts) if not any(ch.isdigit() for ch in p)]

    def run_all(self):
        """Run > Run All Cells, as a student would; after a cell fails (JupyterLab stops there),
        select the next cell and Run > Run Selected Cell and All Below, until every cell ran."""
        self.menu("Run", "Run All Cells")
        for _ in range(100):
            todo = self.unexecuted_code_cells()
            if not todo:
                return
            cell = self.code_cells().nth(todo[0])
            cell.locator(".jp-InputArea-prompt").click()
            self.actions.append(f"select code cell {todo[0]}")
            self.menu("Run", "Run Selected Cell and All Below")
        raise AssertionError("cells never finished running")

    def error_texts(self) -> list[str]:
        """Text of every error or stderr output, in cells and inside widgets."""
        return self.page.eval_on_selector_all(
            "[data-mime-type='application/vnd.jupyter.stderr']", "els => els.map(e => e.textContent)")

    def explorers(self) -> list[dict]:
        """What each explorer widget shows in its output area: its text, its pictures, and its
        error or stderr outputs (a traceback would be one)."""
        self.page.wait_for_function(
            """() => Array.from(document.querySelectorAll('.widget-interact')).every(el => {
                   const out = el.querySelector('.widget-output');
                   return out && (out.innerText.trim() || out.querySelector('img')); })""",
            timeout=30_000)
        return self.page.eval_on_selector_all(".widget-interact", """els => els.map(el => {
            const out = el.querySelector('.widget-output');
            return {text: out.innerText.trim(), images: out.querySelectorAll('img').length,
                    errors: out.querySelectorAll("[data-mime-type='application/vnd.jupyter.stderr'], "
                                                 + ".jp-OutputArea-output[data-mime-type*='error']").length};
        })""")

    def math(self) -> dict:
        """The formulas of the markdown cells as MathJax rendered them: how many, its error boxes
        (``mjx-merror``, e.g. an environment closed by the wrong ``\\end``), and TeX it left as
        text (a ``$`` outside code in a rendered cell, e.g. after an unbalanced brace)."""
        # MathJax typesets asynchronously: wait until the count of formulas stops changing.
        count, stable_since = -1, time.time()
        deadline = time.time() + 30
        while time.time() < deadline:
            now = self.page.locator(".jp-MarkdownCell mjx-container").count()
            if now != count:
                count, stable_since = now, time.time()
            elif time.time() - stable_since > 1.5:
                break
            self.page.wait_for_timeout(250)
        return self.page.evaluate("""() => {
            const errors = Array.from(document.querySelectorAll('.jp-MarkdownCell mjx-merror'))
                .map(e => e.getAttribute('data-mjx-error') || e.textContent);
            const unrendered = [];
            for (const md of document.querySelectorAll('.jp-MarkdownCell .jp-RenderedMarkdown')) {
                const copy = md.cloneNode(true);
                copy.querySelectorAll('mjx-container, code, pre, script, style').forEach(e => e.remove());
                if (copy.textContent.includes('$')) unrendered.push(copy.textContent.trim().slice(0, 160));
            }
            return {formulas: document.querySelectorAll('.jp-MarkdownCell mjx-container').length,
                    errors, unrendered};
        }""")
