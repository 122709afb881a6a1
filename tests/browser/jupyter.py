"""Helpers for the browser tests: a Jupyter server run as a subprocess, and notebooks opened in
JupyterLab 4 or Notebook 7 in a real (headless, Debian) chromium driven by Playwright.

Everything here waits on DOM conditions (``wait_for_function``, ``expect``) with generous
timeouts; nothing sleeps a fixed time and then checks.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
REPO_NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

# Debian's chromium; Playwright never downloads a browser of its own here.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

UIS = ("lab", "notebook")  # JupyterLab 4 at /lab/tree/..., Notebook 7 at /notebooks/...

# Milliseconds. Generous: the machine is small and noisy; a wait ends as soon as its condition
# holds, so a long timeout costs nothing when things go well.
PAGE_TIMEOUT = 90_000
RUN_TIMEOUT = 180_000
KERNEL_READY_TIMEOUT = 40_000  # then the page is loaded again (NotebookPage.open)
OPEN_ATTEMPTS = 3
RELOADS: list[str] = []  # every page loaded again in this session, and why (in the summary)

# JupyterLab user settings (also read by Notebook 7): no news / update prompt (a toast that may
# cover widgets), no toasts at all, and no notebook windowing (every cell's output stays in the
# DOM, whatever the scroll position).
USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}

# Installed in every page before its scripts run: records every value the notebook's kernel
# status indicator (`.jp-Notebook-ExecutionIndicator[data-status]`, the same element in Lab and
# Notebook 7) takes, with the time (old values too: several changes can come in one batch).
STATUS_RECORDER = """
(() => {
  window.__kadamStatus = [];
  const isIndicator = (el) =>
    el.classList && el.classList.contains('jp-Notebook-ExecutionIndicator');
  const record = (el) => {
    const s = el.getAttribute && el.getAttribute('data-status');
    if (s && isIndicator(el)) window.__kadamStatus.push([performance.now(), s]);
  };
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === 'attributes') {
        if (m.oldValue && isIndicator(m.target)) {
          window.__kadamStatus.push([performance.now(), m.oldValue]);
        }
        record(m.target);
        continue;
      }
      for (const n of m.addedNodes) {
        if (!n.querySelectorAll) continue;
        record(n);
        n.querySelectorAll('.jp-Notebook-ExecutionIndicator').forEach(record);
      }
    }
  }).observe(document, {subtree: true, childList: true, attributes: true,
                        attributeFilter: ['data-status'], attributeOldValue: true});
})();
"""

# The kernel is ready for "Run All" when the indicator has left "idle" once and is "idle"
# again, and has stayed so for half a second (the widget manager's own requests answered too).
# It reads "idle" before any kernel is attached, so that first "idle" means nothing. Usually
# it then goes initializing → connecting → unknown → busy → idle; but the frontend sometimes
# renders the kernel's busy and idle of its first reply in one go (React batches them), and
# "busy" never reaches the DOM: "unknown" (the websocket is open, the kernel has not said
# anything yet) followed by "idle" means the same thing, that the kernel answered this page.
KERNEL_READY = """
() => {
  const el = document.querySelector('.jp-Notebook-ExecutionIndicator');
  const seen = window.__kadamStatus || [];
  if (!el || el.getAttribute('data-status') !== 'idle') return false;
  if (!seen.some(([, s]) => s === 'busy' || s === 'unknown')) return false;
  return performance.now() - seen[seen.length - 1][0] > 500;
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class JupyterServer:
    """One ``jupyter lab`` process (it serves Notebook 7 too) and how to reach it."""

    proc: subprocess.Popen[bytes]
    url: str  # http://127.0.0.1:PORT
    token: str
    root: Path
    log_path: Path
    folders: list[Path] = field(default_factory=list)  # one per opened notebook copy

    def api(self, method: str, path: str) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, n: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        return ""

    def copy_notebook(self, name: str) -> str:
        """A fresh copy of a test notebook (``tests/browser/notebooks``) or of a repository
        notebook (``notebooks/``) in a folder of its own under the server's root (so each
        copy has its own kernel and its own ``.kadam`` state directory). Returns its path
        relative to the root."""
        source = NOTEBOOKS / name
        if not source.exists():
            source = REPO_NOTEBOOKS / name
        folder = self.root / f"{Path(name).stem}-{uuid.uuid4().hex[:8]}"
        folder.mkdir()
        shutil.copy(source, folder / name)
        self.folders.append(folder)
        return f"{folder.name}/{name}"

    def shutdown_kernels(self, path: str | None = None) -> None:
        """Delete the sessions (and so shut down the kernels) of ``path``, or all."""
        with contextlib.suppress(OSError, urllib.error.URLError):
            for session in self.api("GET", "/api/sessions"):
                if path is None or session.get("path") == path:
                    with contextlib.suppress(OSError, urllib.error.URLError):
                        self.api("DELETE", f"/api/sessions/{session['id']}")
            if path is None:
                for kernel in self.api("GET", "/api/kernels"):
                    with contextlib.suppress(OSError, urllib.error.URLError):
                        self.api("DELETE", f"/api/kernels/{kernel['id']}")


def start_server(base: Path, env_extra: dict[str, str]) -> JupyterServer:
    """Start ``jupyter lab`` from this virtualenv on 127.0.0.1, a free port and a token, with
    its config, runtime, data, settings and workspaces directories under ``base``; wait until
    ``/api/status`` answers."""
    root = base / "root"
    dirs = {name: base / name for name in ("config", "runtime", "data", "settings", "workspaces")}
    for path in (root, *dirs.values()):
        path.mkdir(parents=True, exist_ok=True)
    for rel, content in USER_SETTINGS.items():
        target = dirs["settings"] / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(content))
    token = uuid.uuid4().hex
    port = free_port()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),  # no stray user kernelspec can take python3
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
        "JUPYTER_PLATFORM_DIRS": "1",
        **env_extra,
    }
    env.pop("KADAM_STATE_DIR", None)  # each notebook keeps its .kadam beside it
    jupyter = Path(sys.executable).parent / "jupyter"
    command = [
        str(jupyter),
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",  # fail rather than quietly listen elsewhere
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.allow_root=True",
        "--ServerApp.open_browser=False",
        "--LabApp.news_url=None",  # no news feed to fetch (the settings also say "never")
    ]
    log_path = base / "jupyter-server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
            env=env,
            start_new_session=True,  # its kernels are its children: stop them with it
        )
    server = JupyterServer(proc, f"http://127.0.0.1:{port}", token, root, log_path)
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{server.log_tail()}")
        try:
            server.api("GET", "/api/status")
            return server
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            stop_server(server)
            raise RuntimeError(f"jupyter lab did not answer in 120 s:\n{server.log_tail()}")
        time.sleep(0.25)


def stop_server(server: JupyterServer) -> None:
    """Shut its kernels down, then stop the server by its PID: SIGTERM, then SIGKILL."""
    if server.proc.poll() is None:
        server.shutdown_kernels()
    pid = server.proc.pid
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    try:
        server.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        server.proc.wait(timeout=10)


# ---------------------------------------------------------------------------------------------
# A notebook in the browser


class NotebookPage:
    """One notebook copy open in one UI, its kernel ready."""

    def __init__(self, page: Any, server: JupyterServer, ui: str, path: str) -> None:
        self.page = page
        self.server = server
        self.ui = ui
        self.path = path
        self.folder = server.root / Path(path).parent
        self.reloads: list[str] = []  # why the page was loaded again, if it was

    @property
    def url(self) -> str:
        if self.ui == "lab":  # ?reset: do not restore the previous test's tabs
            return f"{self.server.url}/lab/tree/{self.path}?reset&token={self.server.token}"
        return f"{self.server.url}/notebooks/{self.path}?token={self.server.token}"

    def open(self) -> NotebookPage:
        """Load the page and wait until its kernel is ready (see KERNEL_READY).

        Once in a while the page comes up broken: we saw a notebook toolbar that never got
        its items (only the debugger button; JupyterLab builds the others from the settings,
        and an empty or collapsed toolbar is a known frontend race, jupyter/notebook#6553), so
        no kernel status indicator ever showed. Nothing has run yet then, so the page is loaded
        again (at most twice more); each reload is printed and listed in the session summary.
        """
        page = self.page
        for attempt in range(1, OPEN_ATTEMPTS + 1):
            page.goto(self.url, timeout=PAGE_TIMEOUT)
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=PAGE_TIMEOUT)
            try:
                self.wait_kernel_ready(KERNEL_READY_TIMEOUT)
                return self
            except Exception as exc:
                history = page.evaluate("() => (window.__kadamStatus || []).map(x => x[1])")
                indicators = page.locator(".jp-Notebook-ExecutionIndicator").count()
                message = (
                    f"{self.ui} {self.path}: kernel not ready after "
                    f"{KERNEL_READY_TIMEOUT / 1000:.0f} s (attempt {attempt}; status indicators "
                    f"{indicators}, statuses seen {history}): {type(exc).__name__}"
                )
                self.reloads.append(message)
                RELOADS.append(message)
                print(message)
                if attempt == OPEN_ATTEMPTS:
                    raise AssertionError(message) from exc
        raise AssertionError("unreachable")

    def accept_dialogs(self) -> None:
        """Accept any JupyterLab dialog (a kernel selection dialog: its default kernel)."""
        dialog = self.page.locator(".jp-Dialog .jp-mod-accept")
        with contextlib.suppress(Exception):
            if dialog.count():
                dialog.first.click(timeout=2_000)

    def wait_kernel_ready(self, timeout: float = PAGE_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout / 1000
        while True:
            self.accept_dialogs()
            try:
                self.page.wait_for_function(KERNEL_READY, timeout=5_000, polling=100)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise

    def run_all(self) -> None:
        """Run > Run All Cells, through the menu bar.

        The menu is the same Lumino menu bar in JupyterLab 4 and Notebook 7, and its items
        carry the id of the command they run (``data-command="runmenu:run-all"``, which runs
        ``notebook:run-all-cells`` on the current notebook), so this depends neither on the
        item's label (nor the UI language), nor on a keyboard shortcut (Run All has none by
        default), nor on where the keyboard focus is, as long as the notebook is the current
        widget: the only document open in this page.
        """
        page = self.page
        page.locator(".lm-MenuBar-item", has_text=re.compile(r"^\s*Run\s*$")).first.click()
        item = page.locator(
            '.lm-Menu-item[data-command="runmenu:run-all"],'
            ' .lm-Menu-item[data-command="notebook:run-all-cells"]'
        ).first
        item.wait_for(timeout=PAGE_TIMEOUT)
        item.click()
        # The first cell's prompt shows [*] or [n] once the run is under way.
        page.wait_for_function(
            """() => Array.from(document.querySelectorAll('.jp-InputArea-prompt'))
                 .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))""",
            timeout=PAGE_TIMEOUT,
        )

    def wait_all_executed(self, timeout: float = RUN_TIMEOUT) -> None:
        """Every code cell has an execution count, and the kernel is idle."""
        self.page.wait_for_function(
            """() => {
                 const prompts = Array.from(
                   document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt'));
                 const el = document.querySelector('.jp-Notebook-ExecutionIndicator');
                 return prompts.length > 0
                   && prompts.every(p => /\\[\\d+\\]/.test(p.textContent))
                   && el && el.getAttribute('data-status') === 'idle';
               }""",
            timeout=timeout,
            polling=200,
        )

    def errors(self) -> list[str]:
        """Texts of error outputs (tracebacks) in the notebook."""
        return self.page.eval_on_selector_all(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
            "els => els.map(e => e.textContent)",
        )

    def close(self) -> None:
        self.server.shutdown_kernels(self.path)


# JavaScript run in the page: the state of the last dashboard (or the one inside `root`).
DASH_STATE = """
(rootSelector) => {
  const scope = rootSelector ? document.querySelector(rootSelector) : document;
  if (!scope) return null;
  const dashes = scope.querySelectorAll('.kadam-dash');
  if (!dashes.length) return null;
  const dash = dashes[dashes.length - 1];
  const nodes = Array.from(dash.querySelectorAll('.kadam-graph g.node')).map(g => ({
    title: (g.querySelector('title') || {}).textContent || '',
    text: Array.from(g.querySelectorAll('text')).map(t => t.textContent).join(' '),
  }));
  const rows = Array.from(dash.querySelectorAll('table.kadam-jobs tbody tr')).map(
    tr => Array.from(tr.querySelectorAll('td')).map(td => td.textContent));
  const panes = Array.from(dash.querySelectorAll('.kadam-log')).map(p => p.textContent);
  const foots = Array.from(dash.querySelectorAll('.kadam-foot')).map(p => p.textContent);
  const tabs = Array.from(dash.querySelectorAll('.lm-TabBar-tab')).map(t => t.textContent);
  return {nodes, rows, panes, foots, tabs, hasGraph: !!dash.querySelector('.kadam-graph svg')};
}
"""


def dash_state(page: Any, root: str | None = None) -> dict[str, Any] | None:
    return page.evaluate(DASH_STATE, root)


def wait_dash(
    page: Any, condition: str, root: str | None = None, timeout: float = RUN_TIMEOUT
) -> dict[str, Any]:
    """Wait until ``condition`` (a JS expression over ``s``, the dashboard's state from
    DASH_STATE) holds; return that state."""
    page.wait_for_function(
        f"""(root) => {{
              const s = ({DASH_STATE})(root);
              return !!s && ({condition});
            }}""",
        arg=root,
        timeout=timeout,
        polling=100,
    )
    state = dash_state(page, root)
    assert state is not None
    return state


def row_of(state: dict[str, Any], job: str) -> list[str]:
    for row in state["rows"]:
        if row and row[0] == job:
            return row
    raise AssertionError(f"no row for {job!r} in {state['rows']}")
