"""srcgrad.explore's page in headless Chromium, driven by selenium: it loads cleanly, selection and the toggle work.

Needs selenium (the ``browser`` extra) and the system's Chromium and chromedriver
(``apt-get install chromium chromium-driver``); skipped, saying which is missing, without them.
A screenshot of each page is kept: in ``$SRCGRAD_ARTIFACTS`` when set, else in pytest's tmp_path.
"""

import os
import shutil
from pathlib import Path

import pytest

import srcgrad

from .functions import polynomial, two_layer_arguments, two_layer_loss

pytestmark = pytest.mark.browser

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def chrome_options():
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,900"):
        options.add_argument(argument)
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("Chromium or chromedriver is not installed (apt-get install chromium chromium-driver)")
    driver = webdriver.Chrome(service=Service(DRIVER), options=chrome_options())
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    where = tmp_path_factory.mktemp("pages")
    return {"polynomial": srcgrad.explore(polynomial, 2.0, path=where / "polynomial.html"),
            "two_layer": srcgrad.explore(two_layer_loss, *two_layer_arguments(), path=where / "two_layer.html")}


def artefacts(tmp_path) -> Path:
    where = os.environ.get("SRCGRAD_ARTIFACTS")
    path = Path(where) if where else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


def load(browser, page):
    browser.get(Path(page).as_uri())
    browser.get_log("browser")  # (what an earlier page logged is not this one's)
    browser.refresh()
    return browser.find_element(By.CSS_SELECTOR, "section.fn")


def selected(browser):
    return set(browser.find_elements(By.CSS_SELECTOR, ".selected"))


def expected_selection(section, line):
    return set(section.find_elements(By.CSS_SELECTOR, f'.generated [data-from="{line}"]')) | set(
        section.find_elements(By.CSS_SELECTOR, f'.primal [data-line="{line}"]'))


@pytest.mark.parametrize("name", ["polynomial", "two_layer"])
def test_the_page_loads_with_no_console_errors_and_shows_values(name, browser, pages, tmp_path):
    section = load(browser, pages[name])
    assert browser.execute_script("return document.documentElement.classList.contains('js')")
    problems = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert problems == []
    values = browser.find_elements(By.CSS_SELECTOR, ".primal .val")
    assert values and all(v.is_displayed() for v in values[:3])
    if name == "polynomial":
        assert "returns 17" in section.text and "dx = 14" in section.text
    browser.save_screenshot(str(artefacts(tmp_path) / f"explorer_{name}.png"))


def test_clicking_a_line_selects_exactly_it_and_its_generated_lines(browser, pages):
    section = load(browser, pages["two_layer"])
    rows = section.find_elements(By.CSS_SELECTOR, ".primal tr[data-line]")
    for row in rows[1:4]:
        line = row.get_attribute("data-line")
        row.click()
        expected = expected_selection(section, line)
        assert selected(browser) == expected
        assert len(expected) > 1  # (the line and at least one generated line)
    # A generated line selects the line it came from.
    generated = section.find_element(By.CSS_SELECTOR, ".mode-adjoint tr[data-from]")
    generated.click()
    assert selected(browser) == expected_selection(section, generated.get_attribute("data-from"))


def test_arrow_keys_move_the_selection_line_by_line(browser, pages):
    section = load(browser, pages["two_layer"])
    rows = section.find_elements(By.CSS_SELECTOR, ".primal tr[data-line]")
    lines = [r.get_attribute("data-line") for r in rows]
    rows[1].click()
    pane = section.find_element(By.CSS_SELECTOR, ".pane.primal")
    assert browser.switch_to.active_element == pane  # (the pane is focused, keyboard reachable: tabindex)
    pane.send_keys(Keys.ARROW_DOWN)
    assert selected(browser) == expected_selection(section, lines[2])
    pane.send_keys(Keys.ARROW_DOWN, Keys.ARROW_DOWN, Keys.ARROW_UP)
    assert selected(browser) == expected_selection(section, lines[3])


def test_the_toggle_shows_forward_mode_instead_of_the_adjoint(browser, pages):
    section = load(browser, pages["two_layer"])
    adjoint = section.find_element(By.CSS_SELECTOR, ".mode-adjoint")
    tangent = section.find_element(By.CSS_SELECTOR, ".mode-tangent")
    assert adjoint.is_displayed() and not tangent.is_displayed()
    toggle = browser.find_element(By.ID, "mode-toggle")
    toggle.click()
    assert tangent.is_displayed() and not adjoint.is_displayed()
    assert "two_layer_loss_tangent" in tangent.text
    # Selection reaches the tangent's lines too.
    row = section.find_elements(By.CSS_SELECTOR, ".primal tr[data-line]")[3]
    row.click()
    line = row.get_attribute("data-line")
    assert set(tangent.find_elements(By.CSS_SELECTOR, f'[data-from="{line}"]')) <= selected(browser)
    assert any(e.is_displayed() for e in tangent.find_elements(By.CSS_SELECTOR, ".selected"))
    toggle.click()
    assert adjoint.is_displayed() and not tangent.is_displayed()


def test_the_callee_section_is_reachable(browser, pages):
    load(browser, pages["two_layer"])
    link = browser.find_element(By.CSS_SELECTOR, 'nav.functions a[href="#fn-1"]')
    link.click()
    callee = browser.find_element(By.ID, "fn-1")
    assert callee.get_attribute("data-function") == "dense"
    assert "def dense_backward(" in callee.text
