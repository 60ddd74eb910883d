"""Real-browser helpers: start `streamlit run app/streamlit_app.py` on a free port for a prepared data home, and
drive Debian's chromium through Python playwright (never `playwright install`)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "browser-password-1"
_HOMES: dict[str, Path] = {}  # server URL -> its data home, so sign_in can create the account there


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def streamlit_server(home: Path, timeout: float = 60.0):
    """The app served for ``home`` (its own SQLite file, no local worker); yields the base URL."""
    port = free_port()
    env = {**os.environ, "FOOTPRINTS_HOME": str(home), "FOOTPRINTS_NO_LOCAL_WORKER": "1"}
    env.pop("DATABASE_URL", None)
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "streamlit_app.py"),
               "--server.headless", "true", "--server.port", str(port), "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]
    log = open(home / "streamlit.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    _HOMES[url] = home
    try:
        _wait_healthy(url, timeout, process)
        yield url
    finally:
        _HOMES.pop(url, None)
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _wait_healthy(url: str, timeout: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer at {url} within {timeout} s")


@contextmanager
def browser_page(width: int = 1400, height: int = 1300):
    """A playwright page in headless Debian chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def wait_idle(page, timeout_ms: int = 30000) -> None:
    """Until the app has finished its script run (Streamlit's status widget gone)."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)


def wait_text(page, text: str, timeout_ms: int = 30000) -> None:
    page.wait_for_function("t => document.body.innerText.includes(t)", arg=text, timeout=timeout_ms)


def ensure_account(home: Path, name: str, role: str = "reviewer", password: str = PASSWORD) -> None:
    """Create the account ``name`` in the data home's database unless it exists."""
    from sqlalchemy import select

    from db import users
    from db.schema import User
    from db.session import transaction

    with transaction(f"sqlite:///{home / 'footprints.db'}") as session:
        if session.scalar(select(User.id).where(User.name == name)) is None:
            users.create_user(session, name, role, password=password)


def fill_sign_in(page, name: str, password: str = PASSWORD) -> None:
    """Type into the sign-in form and press Sign in."""
    page.get_by_label("Username", exact=True).fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def sign_in(page, url: str, name: str, role: str = "reviewer") -> None:
    """Open the app, sign in as ``name`` (an account with ``role`` made for the test), wait until it has drawn."""
    ensure_account(_HOMES[url], name, role)
    page.goto(url)
    page.get_by_role("button", name="Sign in", exact=True).wait_for(timeout=60000)
    fill_sign_in(page, name)
    page.get_by_text(f"Signed in as {name}").wait_for(timeout=60000)
    wait_idle(page)


def open_review(page, url: str, reviewer: str, role: str = "reviewer") -> None:
    """Sign in as ``reviewer`` (Review is the default page) and wait until the review map shows its tile."""
    sign_in(page, url, reviewer, role)
    page.wait_for_function("() => window.__reviewMap && window.__reviewMap.tile()", timeout=60000)
    page.wait_for_timeout(500)  # deck.gl needs a frame to build its picking buffer
