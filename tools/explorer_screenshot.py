"""Screenshots of the explorer page for the docs: docs/images/explorer_polynomial.png and explorer_two_layer.png.

Run from the repository's root: ``python tools/explorer_screenshot.py``. It needs selenium
(``pip install -e .[browser]``) and the system's Chromium and chromedriver
(``apt-get install chromium chromium-driver``), driven as in tests/explorer/test_browser.py.
The two functions are the seeds' polynomial, 3x² + 2x + 1 at x = 2, and a two-layer
network's squared-error loss.
"""

import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import srcgrad  # noqa: E402


def polynomial(x):
    return 3 * x ** 2 + 2 * x + 1


def dense(W, b, x):
    h = np.tanh(W @ x + b)
    return h


def loss(W1, b1, W2, b2, x, y):
    h = dense(W1, b1, x)
    out = W2 @ h + b2
    d = out - y
    return np.sum(d ** 2)


def main():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    rng = np.random.default_rng(0)
    network = (rng.normal(size=(4, 3)), np.zeros(4), rng.normal(size=(2, 4)), np.zeros(2),
               rng.normal(size=3), np.array([1.0, -1.0]))
    shots = [("explorer_polynomial.png", polynomial, (2.0,), 1, (1400, 520)),
             ("explorer_two_layer.png", loss, network, 2, (1400, 860))]
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--hide-scrollbars"):
        options.add_argument(argument)
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    out = ROOT / "docs" / "images"
    out.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory() as where:
            for name, fn, args, row, (width, height) in shots:
                start = time.perf_counter()
                page = srcgrad.explore(fn, *args, path=Path(where) / (fn.__name__ + ".html"))
                took = time.perf_counter() - start
                driver.set_window_size(width, height)
                driver.get(Path(page).as_uri())
                driver.find_elements(By.CSS_SELECTOR, ".primal tr[data-line]")[row].click()  # (a line selected)
                driver.save_screenshot(str(out / name))
                print(f"{out / name}: page {len(page.html.encode()):,} bytes, built in {took * 1000:.0f} ms")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
