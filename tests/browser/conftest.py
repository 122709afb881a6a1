"""Fixtures of the browser tests: ONE Jupyter server and ONE headless chromium for the session.

* ``jupyter_server``: ``jupyter lab`` from this virtualenv, started as a subprocess on
  127.0.0.1, a free port and a random token, with ``KADAM_BACKEND=docker`` (it depends on the
  session's ``docker_engine``: an engine answers and ``busybox:1.36`` exists). Its root is a
  temporary folder; every test opens a fresh copy of its notebook in a folder of its own there
  (its own kernel, its own ``.kadam``). Its config, runtime, data, settings and workspaces
  directories are temporary too, with the news prompt and notebook windowing turned off. At the
  end its kernels are shut down through its API and the process is stopped by its PID (SIGTERM,
  then SIGKILL).
* ``browser``: Debian's ``/usr/bin/chromium`` launched by Playwright (headless, with the flags
  this machine needs). Playwright never downloads a browser here.

Without chromium or Playwright the tests are skipped with a loud line, except when
``KADAM_REQUIRE_DOCKER=1`` (CI), which makes them fail, as the Docker tests do.

Screenshots the tests take go to a temporary folder and, when ``KADAM_SAVE_SCREENSHOTS=DIR`` is
set, to DIR as well. A failing test leaves a screenshot of its page there too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.browser.jupyter import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PAGE_TIMEOUT,
    RELOADS,
    STATUS_RECORDER,
    JupyterServer,
    NotebookPage,
    start_server,
    stop_server,
)
from tests.support.docker_engine import kadam_containers


def _unavailable(message: str) -> NoReturn:
    message = f"NO BROWSER: browser tests cannot run here: {message}"
    if os.environ.get("KADAM_REQUIRE_DOCKER") == "1":
        pytest.fail(message + " (KADAM_REQUIRE_DOCKER=1 makes this a failure)")
    print(f"\n{'!' * 78}\n{message}\n{'!' * 78}")
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:
        _unavailable(f"playwright is not installed ({exc}); pip install -e '.[test]'")
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"{CHROMIUM} is missing; scripts/system-deps.sh installs Debian's chromium")
    manager = sync_playwright().start()
    try:
        try:
            chromium = manager.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
        except Error as exc:
            _unavailable(f"{CHROMIUM} did not start: {exc}")
        yield chromium
        chromium.close()
    finally:
        manager.stop()


@pytest.fixture(scope="session")
def jupyter_server(
    browser: Any, docker_engine: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JupyterServer]:
    base = tmp_path_factory.mktemp("jupyter")
    # KADAM_STOP_GRACE: a terminated job gets SIGKILL 2 s after SIGTERM, not 10 (a `sleep`
    # under sh as PID 1 ignores SIGTERM): the Terminate test need not wait the default.
    server = start_server(base, {"KADAM_BACKEND": "docker", "KADAM_STOP_GRACE": "2"})
    try:
        yield server
    finally:
        stop_server(server)
        _remove_containers(server.folders)


def _state_keys(folders: list[Path]) -> set[str]:
    from kadam_nb.backends.docker import state_dir_key

    keys = set()
    for folder in folders:
        keys.add(state_dir_key(str(folder / ".kadam")))
        keys.add(state_dir_key(str((folder / ".kadam").resolve())))
    return keys


def _remove_containers(folders: list[Path]) -> None:
    """Containers left by the kernels of these notebook folders (say, a kernel shut down while
    a job ran), removed."""
    if not folders:
        return
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        leftovers = kadam_containers(_state_keys(folders))
        if leftovers:
            subprocess.run(["docker", "rm", "-f", *leftovers], capture_output=True)


# ---------------------------------------------------------------------------------------------
# Screenshots


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def _save(screenshot_dir: Path, target: Any, name: str, **kwargs: Any) -> Path:
    path = screenshot_dir / f"{name}.png"
    target.screenshot(path=str(path), **kwargs)
    extra = os.environ.get("KADAM_SAVE_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / path.name)
    return path


@pytest.fixture
def shoot(screenshot_dir: Path) -> Callable[..., Path]:
    """``shoot(page_or_locator, name)``: a PNG in the screenshot folder(s); its path."""

    def take(target: Any, name: str, **kwargs: Any) -> Path:
        return _save(screenshot_dir, target, name, **kwargs)

    return take


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if RELOADS:
        terminalreporter.section("browser pages loaded again (kernel status never ready)")
        for line in RELOADS:
            terminalreporter.write_line(line)


_CALL_FAILED = pytest.StashKey[bool]()
_CONSOLE = pytest.StashKey[list[str]]()


# ---------------------------------------------------------------------------------------------
# Pages and notebooks


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a context of its own (cookies, storage), recording the kernel status and the
    browser console's errors (printed when the test fails)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(PAGE_TIMEOUT)
    context.add_init_script(STATUS_RECORDER)
    page = context.new_page()
    errors: list[str] = []
    request.node.stash[_CONSOLE] = errors
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else 0)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def open_notebook(
    page: Any,
    jupyter_server: JupyterServer,
    screenshot_dir: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Callable[[str, str], NotebookPage]]:
    """``open_notebook(ui, name)``: a fresh copy of notebook ``name`` open in ``ui`` ("lab" or
    "notebook"), its kernel ready. Its kernel is shut down after the test."""
    opened: list[NotebookPage] = []

    def open_(ui: str, name: str) -> NotebookPage:
        notebook = NotebookPage(page, jupyter_server, ui, jupyter_server.copy_notebook(name))
        opened.append(notebook)
        return notebook.open()

    yield open_
    if request.node.stash.get(_CALL_FAILED, False):
        name = "FAILED-" + "".join(c if c.isalnum() else "-" for c in request.node.name)
        with contextlib.suppress(Exception):
            path = _save(screenshot_dir, page, name, full_page=True)
            print(f"\nscreenshot of the failed test's page: {path}")
    for notebook in opened:
        notebook.close()
    _remove_containers([n.folder for n in opened])
    if request.node.stash.get(_CALL_FAILED, False):
        console = "\n".join(request.node.stash.get(_CONSOLE, [])[-30:])
        print(f"\nbrowser console errors (last ones):\n{console}")
        print(f"\njupyter server log (last lines):\n{jupyter_server.log_tail()}")
