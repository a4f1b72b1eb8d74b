"""/openapi.json and /docs over HTTP, the docs page rendered by a real browser (Debian's Chromium)."""

import os
import shutil

import httpx
import pytest

from asyncinfer.routes import ROUTES

pytestmark = pytest.mark.e2e
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_openapi_document_is_public_and_lists_every_route(stack):
    response = httpx.get(f"{stack.url}/openapi.json", timeout=10)  # no key
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert {(m.upper(), p) for p, item in document["paths"].items() for m in item} == {
        (r.method, r.path) for r in ROUTES
    }


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="Chromium is not installed (apt install chromium); CI installs it and runs this",
)
def test_docs_renders_in_headless_chromium_and_lists_every_route(stack):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "CI must install Chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page()
            failed: list[str] = []
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.goto(f"{stack.url}/docs", wait_until="load")
            page.wait_for_selector(".opblock", timeout=20_000)
            page.wait_for_function(f"document.querySelectorAll('.opblock').length >= {len(ROUTES)}", timeout=20_000)
            shown = page.eval_on_selector_all(
                ".opblock",
                """blocks => blocks.map(b => [
                    b.querySelector('.opblock-summary-method').textContent.trim(),
                    b.querySelector('.opblock-summary-path').getAttribute('data-path')
                ])""",
            )
            title = page.text_content(".info .title")
        finally:
            browser.close()
    assert {(method, path) for method, path in shown} == {(r.method, r.path) for r in ROUTES}
    assert "asyncinfer" in title
    assert not failed, f"the page tried to fetch: {failed}"
