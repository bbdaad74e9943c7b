"""Helpers for the tests that use seqsweep the way a person does: servers started by the CLI, a real browser.

- `shared_sweep`: one real tiny sweep per test session, shared by the UI and serving tests (a sweep costs a
  minute on this machine).
- `Server`: a long-running `seqsweep ui` / `seqsweep serve` process in its own process group. MLflow's
  servers leave a child behind when only the parent gets SIGTERM, so `stop` signals the whole group.
- `Browser`: headless Chromium (the Debian package) driven over the DevTools protocol with aiohttp's
  websocket client (aiohttp is a dependency of mlflow, so this adds no package). The MLflow UI renders in
  JavaScript, so the tests wait for text to appear in the live page instead of reading the HTML once.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from e2e_helpers import ROOT, env_for, run_cli, seed_store, write_tiny_job

#: Screenshots a person can look at after the run (git-ignored).
ARTIFACTS = ROOT / "test-artifacts"

#: The job name of the shared sweep, hence its experiment and registered model name.
SHARED_JOB = "tiny"

_shared: dict[str, Any] = {}


def shared_sweep(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """(home, completed `seqsweep sweep` process) of one real tiny sweep, run on first use in this session.

    3 trials of 2 epochs, 2-fold CV, registered as model `tiny` with aliases champion and challenger.
    Callers only read the store (the UI and the model server), so sharing it between test files is safe.
    """
    if "home" not in _shared:
        home = tmp_path_factory.mktemp("shared-sweep")
        job = write_tiny_job(home, name=SHARED_JOB, trials=3, epochs=2)
        seed_store(home)
        _shared["home"], _shared["proc"] = home, run_cli(home, "sweep", str(job))
    return _shared["home"], _shared["proc"]


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: Any = None, *, timeout: float = 30,
         headers: dict[str, str] | None = None) -> tuple[int, str]:
    """(status, body text) of one HTTP request; error statuses are returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


class Server:
    """`seqsweep ARGS` running in `home` in a new session (process group), its output in `log`.

    env: the process environment (default: env_for(home)).
    """

    def __init__(self, home: Path, *args: str, log: Path, env: dict[str, str] | None = None):
        self.log = log
        self._log_fh = open(log, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "seqsweep", *args],
            cwd=home, env=env if env is not None else env_for(home), stdout=self._log_fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def output(self, tail: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-tail:]

    def wait_until_up(self, url: str, timeout: float) -> float:
        """Poll `url` until it answers 200; returns the seconds it took. Fails early if the process exits."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode} before {url} answered:\n{self.output()}")
            try:
                if http("GET", url, timeout=5)[0] == 200:
                    return time.monotonic() - t0
            except OSError:
                pass
            time.sleep(1)
        raise AssertionError(f"{url} did not answer within {timeout:.0f}s:\n{self.output()}")

    def stop(self) -> None:
        """SIGTERM to the whole process group, SIGKILL after 5 s; only this server's group is touched.

        (`mlflow ui` itself has been seen to ignore SIGTERM while its uvicorn workers exit.)
        """
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _group_alive(self.proc.pid):
            self.proc.poll()
            time.sleep(0.3)
        if _group_alive(self.proc.pid):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=30)
        self._log_fh.close()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def listening_addresses(port: int) -> set[str]:
    """Local IP addresses with a TCP socket listening on `port` (from /proc/net/tcp and tcp6)."""
    found: set[str] = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            addr_hex, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:  # 0A = LISTEN
                continue
            raw = bytes.fromhex(addr_hex)
            # the kernel prints each 32-bit word in host (little-endian) order
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(socket.inet_ntop(socket.AF_INET if width == 8 else socket.AF_INET6, raw))
    return found


# ------------------------------------------------------------------------------------------------------------
# Headless Chromium over the DevTools protocol
# ------------------------------------------------------------------------------------------------------------
def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """One headless Chromium with one tab, driven over the DevTools protocol.

    Only what the tests need: open a URL, read the rendered text, run a bit of JavaScript (to click like a
    person would), and take a screenshot. Use as a context manager; the browser's process group is killed on
    exit.
    """

    def __init__(self, width: int = 1600, height: int = 1000):
        self._size = (width, height)
        exe = chromium_path()
        if exe is None:
            raise RuntimeError("chromium is not installed")
        self._profile = Path(tempfile.mkdtemp(prefix="seqsweep-chromium-"))
        self._proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", f"--window-size={width},{height}", f"--user-data-dir={self._profile}",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        self._ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._connect())
        except BaseException:
            self.close()
            raise

    # -- plumbing --------------------------------------------------------------------------------------------
    async def _connect(self) -> None:
        import aiohttp

        port_file = self._profile / "DevToolsActivePort"  # Chromium writes its chosen port here
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start (exit code {self._proc.poll()})")
            await asyncio.sleep(0.2)
        port = int(port_file.read_text().split()[0])
        self._session = aiohttp.ClientSession()
        async with self._session.get(f"http://127.0.0.1:{port}/json/list") as resp:
            targets = await resp.json(content_type=None)
        page = next(t for t in targets if t.get("type") == "page")
        self._ws = await self._session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
        await self._call("Page.enable")
        await self._call("Runtime.enable")
        # --window-size includes the (invisible) window frame; fix the page's own viewport instead
        await self._call("Emulation.setDeviceMetricsOverride", width=self._size[0], height=self._size[1],
                         deviceScaleFactor=1, mobile=False)

    async def _call(self, method: str, **params: Any) -> dict[str, Any]:
        msg_id = next(self._ids)
        await self._ws.send_str(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = await self._ws.receive(timeout=120)
            if msg.type != 1:  # aiohttp.WSMsgType.TEXT
                raise RuntimeError(f"DevTools connection closed during {method}: {msg}")
            data = json.loads(msg.data)
            if data.get("id") == msg_id:  # everything else is an event we did not ask for
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                return data.get("result", {})

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        return self._loop.run_until_complete(self._call(method, **params))

    # -- what a test uses ------------------------------------------------------------------------------------
    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def js(self, expression: str) -> Any:
        """Value of a JavaScript expression in the page (promises awaited)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript error in {expression[:80]!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def text(self) -> str:
        """The page's visible text, as a person reads it."""
        return self.js("document.body ? document.body.innerText : ''") or ""

    def wait_for_text(self, *needles: str, timeout: float = 90) -> str:
        """Wait until the visible text contains every needle; returns that text. Fails with what is missing."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            missing = [n for n in needles if n not in text]
            if not missing:
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"page never showed {missing} within {timeout:.0f}s; it shows:\n{text[:3000]}")
            time.sleep(0.5)

    def click_text(self, text: str, selector: str = "button, [role=button], [role=menuitem], [role=option], label",
                   timeout: float = 30, index: int = -1) -> None:
        """Click the visible element matching `selector` whose text is `text`; `index` picks among several (by
        default the last: menus and popovers render after the page)."""
        self._click(f"Array.from(document.querySelectorAll({json.dumps(selector)}))"
                    f".filter(e => e.innerText && e.innerText.trim() === {json.dumps(text)})",
                    index, timeout, f"{text!r} ({selector})")

    def click(self, selector: str, timeout: float = 30, index: int = 0) -> None:
        """Click the visible element matching the CSS `selector` (the first by default)."""
        self._click(f"Array.from(document.querySelectorAll({json.dumps(selector)}))", index, timeout, selector)

    def _click(self, candidates_js: str, index: int, timeout: float, what: str) -> None:
        # Real mouse events at the element's centre, as a person's click: React menus listen to pointer
        # events, which element.click() does not send.
        find = (
            f"(() => {{ const els = {candidates_js}.filter(e => e.getClientRects().length);"
            f" const el = els.at({int(index)}); if (!el) return null; el.scrollIntoView({{block: 'center'}});"
            " const r = el.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        deadline = time.monotonic() + timeout
        while (point := self.js(find)) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing clickable matches {what}; the page shows:\n{self.text()[:3000]}")
            time.sleep(0.5)
        x, y = point
        self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def press(self, key: str, code: int) -> None:
        """Press and release one key (e.g. "Enter", 13 or "Escape", 27)."""
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key=key, code=key, windowsVirtualKeyCode=code)

    def type_text(self, text: str) -> None:
        """Type into whatever has the keyboard focus."""
        self.call("Input.insertText", text=text)

    def dismiss_if_shown(self, label: str, timeout: float = 10) -> bool:
        """Click the button `label` of a one-time tip or announcement if one shows within `timeout` seconds
        (a fresh browser profile gets them; they cover the page and swallow clicks)."""
        deadline = time.monotonic() + timeout
        while label not in self.text():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)
        self.click_text(label)
        return True

    def table_rows(self) -> list[str]:
        """Text of each data row of the page's table, cells joined by " | ".

        Handles MLflow's two kinds of table: AG Grid (the runs table, which renders a row's pinned and
        scrolling cells in separate containers: they are joined, and rows ordered, by row index) and ARIA tables (role=row with
        role=cell, e.g. the model versions). Header rows are left out.
        """
        rows = self.js(
            "(() => { const text = c => c.innerText.trim().replace(/\\s+/g, ' ');"
            " const ag = document.querySelectorAll('.ag-row');"
            " if (ag.length) { const m = new Map(); for (const r of ag) { const k = r.getAttribute('row-index');"
            " m.set(k, (m.get(k) || []).concat(Array.from(r.querySelectorAll('.ag-cell')).map(text))); }"
            " return Array.from(m.entries()).sort((a, b) => Number(a[0]) - Number(b[0]))"
            ".map(([, c]) => c.join(' | ')); }"
            " return Array.from(document.querySelectorAll('[role=row]'))"
            ".map(r => Array.from(r.querySelectorAll('[role=cell]')).map(text)).filter(c => c.length)"
            ".map(c => c.join(' | ')); })()"
        )
        return list(rows or [])

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            if getattr(self, "_session", None) is not None:
                self._loop.run_until_complete(self._session.close())
        finally:
            self._loop.close()
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._proc.wait(timeout=30)
            shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
