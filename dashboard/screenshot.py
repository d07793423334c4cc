"""Screenshots of every dashboard page, taken with headless Chromium (Selenium).

Starts ``curate dashboard`` on a store in a subprocess (a free port on 127.0.0.1), opens each
page's URL in Debian's ``/usr/bin/chromium`` driven by ``chromedriver`` and saves one PNG per
page, as tall as the page's content::

    python -m dashboard.screenshot --store curate_data --out screenshots/

Needs ``chromium`` and ``chromium-driver`` (``apt-get install -y chromium chromium-driver``)
and ``selenium`` (the ``test`` extra).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
# url path -> the page's title (an <h1> that shows once the page has rendered)
PAGES = {
    "overview": "Overview",
    "edge_cases": "Edge cases",
    "integrity": "Integrity",
    "drift": "Drift",
    "training": "Training runs",
    "signals": "Signals",
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dashboard_command(store: Path, port: int, host: str = "127.0.0.1") -> list[str]:
    """``curate dashboard`` (the console script next to this Python, else ``-m dashboard.cli``)."""
    script = Path(sys.executable).with_name("curate")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "dashboard.cli"]
    return [*head, "dashboard", "--store", str(store), "--host", host, "--port", str(port)]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Wait until Streamlit answers its health check; raise if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the dashboard exited with status {proc.returncode}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp,
        ):
            if resp.status == 200:
                return
        time.sleep(0.25)
    raise TimeoutError(f"the dashboard did not answer at {url} within {timeout:.0f} s")


@contextlib.contextmanager
def running_dashboard(store: Path, port: int | None = None, log: Path | None = None):
    """Start ``curate dashboard`` on ``store``; yield its URL; stop it afterwards."""
    port = port or free_port()
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        dashboard_command(store, port), stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy()
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()  # type: ignore[union-attr]


@contextlib.contextmanager
def chromium(user_data_dir: Path, width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A headless Chromium WebDriver with a new, empty profile in ``user_data_dir``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir}")
    options.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(driver: Any, url: str, title: str, timeout: float = 45.0) -> None:
    """Load ``url`` and wait until the page titled ``title`` has rendered."""
    driver.get(url)
    wait_rendered(driver, title, timeout)


def wait_rendered(driver: Any, title: str, timeout: float = 45.0) -> None:
    """Wait until the page's ``<h1>`` shows ``title`` and the script run has finished."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, timeout)
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "h1"), title))
    _wait_settled(driver, timeout)


def _wait_settled(driver: Any, timeout: float, quiet: float = 1.5) -> None:
    """Wait until no script runs and the page's content has not changed for ``quiet`` s."""
    size_js = (
        "const m = document.querySelector('[data-testid=\"stMainBlockContainer\"]');"
        "return m ? m.innerHTML.length : 0;"
    )
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        size = driver.execute_script(size_js)
        if size != last or _script_running(driver):
            last, since = size, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.25)


def _script_running(driver: Any) -> bool:
    from selenium.webdriver.common.by import By

    widgets = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')
    return any("Running" in w.text for w in widgets)


def select_option(driver: Any, label: str, contains: str, timeout: float = 45.0) -> str:
    """Open the selectbox labelled ``label``, choose the first option whose text has
    ``contains``, wait for the page to settle; return the option's text."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    boxes = [
        b
        for b in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stSelectbox"]')
        if b.text.startswith(label)
    ]
    if not boxes:
        raise LookupError(f"no selectbox labelled {label!r} on the page")
    boxes[0].find_element(By.CSS_SELECTOR, 'input[role="combobox"]').click()
    options = WebDriverWait(driver, timeout).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, '[role="listbox"] [role="option"]'),
        f"the options of {label!r} did not open",
    )
    chosen = next((o for o in options if contains in o.text), None)
    if chosen is None:
        raise LookupError(f"no option of {label!r} contains {contains!r}")
    text = chosen.text
    chosen.click()
    _wait_settled(driver, timeout)
    return text


def save_full_page(driver: Any, path: Path, width: int = 1400) -> Path:
    """Resize the window to the content's height and save a PNG of it."""
    height = driver.execute_script(
        "const m = document.querySelector('[data-testid=\"stMainBlockContainer\"]');"
        "return Math.max(m ? m.scrollHeight + 160 : 0, document.body.scrollHeight);"
    )
    driver.set_window_size(width, min(int(height), 12000))
    time.sleep(0.5)
    driver.save_screenshot(str(path))
    return path


def take_screenshots(
    store: str | os.PathLike[str],
    out: str | os.PathLike[str],
    pages: Sequence[str] = tuple(PAGES),
    width: int = 1400,
) -> list[Path]:
    """Start the dashboard on ``store`` and save ``<out>/<page>.png`` for each page."""
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    saved = []
    with (
        tempfile.TemporaryDirectory(prefix="curate-chromium-") as profile,
        running_dashboard(Path(store).absolute(), log=out_dir / "dashboard.log") as url,
        chromium(Path(profile), width=width) as driver,
    ):
        for page in pages:
            driver.set_window_size(width, 1000)
            open_page(driver, f"{url}/{page}", PAGES[page])
            saved.append(save_full_page(driver, out_dir / f"{page}.png", width))
    return saved


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dashboard.screenshot --store DIR --out DIR [--pages ...]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="curate_data", help="the store folder")
    parser.add_argument("--out", default="screenshots", help="folder for the PNG files")
    parser.add_argument("--pages", nargs="+", choices=list(PAGES), default=list(PAGES))
    parser.add_argument("--width", type=int, default=1400)
    args = parser.parse_args(argv)
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        parser.exit(2, "needs /usr/bin/chromium and /usr/bin/chromedriver: "
                       "apt-get install -y chromium chromium-driver\n")  # fmt: skip
    for path in take_screenshots(args.store, args.out, args.pages, args.width):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
