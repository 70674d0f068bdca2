"""`vaekit explore` in a real headless Chromium: the page loads clean, and every control decodes."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import console_errors, explorer_server

FETCH = """const [path, body, done] = arguments;
fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: body})
  .then(r => r.json().then(j => done([r.status, j.error || null, j.png || null])))
  .catch(e => done([0, String(e), null]));"""


@pytest.fixture(scope="module")
def page(browser, digits_2d_run, tmp_path_factory):
    """The explorer of the 2-D VAE, served on a free loopback port and open in the browser."""
    with explorer_server(digits_2d_run, tmp_path_factory.mktemp("logs") / "explore.log") as url:
        console_errors(browser)  # start from an empty console log
        browser.get(url)
        wait_for_decodes(browser, 1)
        yield browser


def decodes(driver) -> int:
    return int(driver.execute_script("return Number(document.body.dataset.decodes || 0)"))


def wait_for_decodes(driver, at_least: int) -> None:
    WebDriverWait(driver, 60).until(lambda d: decodes(d) >= at_least, f"the page showed fewer than {at_least} images")


def shown(driver) -> tuple[str, list[float]]:
    """The decoded image's data URI and the page's current code z."""
    return driver.find_element(By.ID, "decoded").get_attribute("src"), driver.execute_script("return state.z.slice()")


def after(driver, action) -> tuple[str, list[float]]:
    """Does `action`, waits until the page has shown the image it asked for, and returns it."""
    start = decodes(driver)
    action()
    wait_for_decodes(driver, start + 1)
    WebDriverWait(driver, 30).until(lambda d: not d.execute_script("return busy"), "a decode never finished")
    return shown(driver)


def test_page_explains_itself_and_loads_without_errors(page):
    assert "vae trained on digits" in page.find_element(By.ID, "summary").text
    assert [e.text for e in page.find_elements(By.CSS_SELECTOR, "#sliders-list .name")] != []
    assert page.find_element(By.ID, "decoded").get_attribute("src").startswith("data:image/png;base64,")
    assert len(page.find_elements(By.CSS_SELECTOR, "#picks img")) == 48
    assert "label 9" in page.find_element(By.ID, "legend").text  # the plane's legend names the classes
    assert console_errors(page) == []


def test_moving_a_slider_changes_the_image(page):
    slider = page.find_elements(By.CSS_SELECTOR, "#sliders-list input")[0]
    dim = int(slider.get_attribute("data-dim"))
    src, z = shown(page)
    new_src, new_z = after(
        page,
        lambda: (
            ActionChains(page).move_to_element_with_offset(slider, -slider.size["width"] // 2 + 3, 0).click().perform()
        ),
    )  # to the slider's left end
    assert new_src != src
    assert new_z[dim] < z[dim] and new_z[dim] < -2.5  # the left end of [-3, 3]
    newer_src, newer_z = after(page, lambda: slider.send_keys(Keys.END))  # the keyboard moves it too
    assert newer_z[dim] == pytest.approx(3.0) and newer_src != new_src
    assert console_errors(page) == []


def test_dragging_over_the_plane_decodes_that_point(page):
    canvas = page.find_element(By.ID, "canvas")
    w, h = canvas.size["width"], canvas.size["height"]
    drag = ActionChains(page).move_to_element_with_offset(canvas, -w // 4, h // 4).click_and_hold()
    _, z = after(page, lambda: drag.move_by_offset(w // 8, 0).release().perform())
    assert -3 < z[0] < 0 and -3 < z[1] < 0  # left of and below the centre: both latents negative
    slider_values = page.execute_script(
        "return Array.from(document.querySelectorAll('#sliders-list input'))"
        ".map(i => [Number(i.dataset.dim), Number(i.value)])"
    )
    assert all(v == pytest.approx(z[d], abs=0.02) for d, v in slider_values)  # the sliders follow the point


def test_random_sample_and_the_walk_between_two_test_images(page):
    _, z = shown(page)
    _, sampled_z = after(page, lambda: page.find_element(By.ID, "random").click())
    assert sampled_z != z
    picks = page.find_elements(By.CSS_SELECTOR, "#picks img")
    a_src, a_z = after(page, lambda: picks[0].click())
    _, b_z = after(page, lambda: picks[5].click())  # t = 0: still A's code
    assert b_z == pytest.approx(a_z, abs=1e-4)
    end_src, end_z = after(page, lambda: page.find_element(By.ID, "walk-t").send_keys(Keys.END))
    assert end_src != a_src and end_z != a_z
    assert page.find_element(By.ID, "source").text == "walk from A to B (straight line), t = 1.00"
    assert "a" in picks[0].get_attribute("class") and "b" in picks[5].get_attribute("class")


def test_bad_requests_get_4xx_and_a_good_one_still_answers(page):
    for body in ('{"z": [0.1, 0.2, 0.3]}', '{"z": [0.1, "x"]}', '{"z": [0.1, 1e9]}', '{"z": [0.1,', '{"z": [NaN, 0]}'):
        status, error, _ = page.execute_async_script(FETCH, "/api/decode", body)
        assert 400 <= status < 500 and error
    status, error, png = page.execute_async_script(FETCH, "/api/decode", '{"z": [0.5, -0.5]}')
    assert status == 200 and png.startswith("data:image/png;base64,")
    console_errors(page)  # the 4xx answers are logged by Chromium as failed loads; that is expected here


def test_a_text_run_shows_sentences_that_follow_the_controls(browser, tiny_text_run, tmp_path):
    """Sliders, the walk between two test sentences and random sample each show the server's greedy decode."""
    import httpx

    with explorer_server(tiny_text_run("vae"), tmp_path / "explore.log") as url:
        console_errors(browser)
        browser.get(url)
        wait_for_decodes(browser, 1)
        assert "sentences, decoded greedily" in browser.find_element(By.ID, "summary").text
        assert not browser.find_element(By.ID, "decoded").is_displayed()
        buttons = browser.find_elements(By.CSS_SELECTOR, "#picks button")
        assert len(buttons) == 30  # the slice's whole test split: 30 sentences

        def sentence_for(z) -> str:
            return httpx.post(url + "/api/decode", json={"z": z}, timeout=30).json()["text"]

        slider = browser.find_elements(By.CSS_SELECTOR, "#sliders-list input")[0]
        dim = int(slider.get_attribute("data-dim"))
        _, z = after(browser, lambda: slider.send_keys(Keys.END))
        assert z[dim] == pytest.approx(3.0)
        assert browser.find_element(By.ID, "sentence").text == sentence_for(z).strip()
        _, a_z = after(browser, lambda: buttons[0].click())
        assert browser.find_element(By.ID, "sentence").text == sentence_for(a_z).strip()
        after(browser, lambda: buttons[1].click())
        _, end_z = after(browser, lambda: browser.find_element(By.ID, "walk-t").send_keys(Keys.END))
        assert end_z != a_z and browser.find_element(By.ID, "sentence").text == sentence_for(end_z).strip()
        _, sampled = after(browser, lambda: browser.find_element(By.ID, "random").click())
        assert sampled != end_z and browser.find_element(By.ID, "sentence").text == sentence_for(sampled).strip()
        status, error, _ = browser.execute_async_script(FETCH, "/api/decode", '{"z": [0.1, 0.2]}')
        assert status == 422 and "4 latent dimensions" in error
        console_errors(browser)  # the 422 is logged as a failed load; expected
