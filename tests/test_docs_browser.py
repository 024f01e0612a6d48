"""/api/docs in a real browser (headless Chromium through Playwright), offline, under the page's
own strict Content-Security-Policy: every operation shows, and "Try it out" really works."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.accounts import PASSWORD
from tests.support.servers import PROJECT_ROOT, gunicorn_server

# Where scripts/system-deps.sh (run by make test) looks for it, and installs it when missing.
CHROMIUM = Path(os.environ.get("CHROMIUM") or "/usr/bin/chromium")
# As root Chromium needs --no-sandbox; the networking flags keep it from calling Google's
# services, which this machine's closed network refuses (and a test must not depend on).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = PROJECT_ROOT / "tests" / "artifacts" / "docs-page.png"
# `make screenshot` sets this to refresh the README's picture; plain test runs leave it alone.
README_SCREENSHOT = PROJECT_ROOT / "docs" / "screenshot.png"
UPDATE_README_SCREENSHOT = os.environ.get("UPDATE_README_SCREENSHOT") == "1"
TIMEOUT_MS = 15_000


pytestmark = pytest.mark.slow


def documented_operations(base_url: str) -> list[str]:
    """Swagger UI's element id of every operation in the document the server answers."""
    document = httpx.get(f"{base_url}/api/openapi.json", timeout=10).json()
    return [
        f"operations-{operation['tags'][0]}-{operation['operationId']}"
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in ("get", "put", "post", "patch", "delete")
    ]


@pytest.fixture
def browser_context(tmp_path: Path) -> Iterator[Any]:
    """A fresh Chromium profile, from the Debian package (Playwright's downloads are never used)."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: run scripts/system-deps.sh (make test does)", pytrace=False
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "playwright is missing: install requirements-dev.txt (make install)", pytrace=False
        )
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


class DocsPage:
    """The Swagger UI page, driven the way a person would: click, type, read."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def operation(self, element_id: str) -> Any:
        return self.page.locator(f"#{element_id}")

    def try_it_out(self, element_id: str, *, params: dict[str, str], body: str | None) -> Any:
        """Open the operation, fill it in, execute it; returns the operation's element."""
        operation = self.operation(element_id)
        operation.locator(".opblock-summary-control").click()
        operation.locator(".try-out__btn").click()
        for name, value in params.items():
            operation.locator(f'tr[data-param-name="{name}"] input').fill(value)
        if body is not None:
            operation.locator("textarea.body-param__text").fill(body)
        operation.locator(".execute").click()
        operation.locator(".live-responses-table tr.response .response-col_status").wait_for()
        return operation

    def answer(self, operation: Any) -> tuple[int, dict]:
        """The status and JSON body that the page shows for the request just executed."""
        live = operation.locator(".live-responses-table tr.response")
        status = int(live.locator(".response-col_status").inner_text().strip())
        body = live.locator(".response-col_description pre").first.inner_text()
        return status, json.loads(body)

    def close(self, element_id: str) -> None:
        self.operation(element_id).locator(".opblock-summary-control").click()

    def authorize(self, token: str) -> None:
        self.page.locator(".auth-wrapper .authorize").click()
        dialog = self.page.locator(".modal-ux")
        dialog.locator(".auth-container input").fill(token)
        dialog.locator("button.modal-btn.auth.authorize").click()
        dialog.locator("button.btn-done").click()
        dialog.wait_for(state="detached")


def save_screenshot(page: Any, last_operation: Any) -> None:
    """From the top of the page down to the last answer shown, beside the test's artifacts,
    and as the README's picture when asked."""
    box = last_operation.locator(".live-responses-table").bounding_box()
    scroll_y = page.evaluate("window.scrollY")
    height = box["y"] + scroll_y + box["height"] + 16
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=str(SCREENSHOT), full_page=True, clip={"x": 0, "y": 0, "width": 1280, "height": height}
    )
    if UPDATE_README_SCREENSHOT:
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SCREENSHOT, README_SCREENSHOT)


@pytest.mark.commits
def test_docs_page_lists_every_operation_and_tries_them_out(browser_context, database_url):
    email = f"docs-{uuid.uuid4().hex[:12]}@example.com"
    with gunicorn_server({"DATABASE_URL": database_url}) as base_url:
        registered = httpx.post(
            f"{base_url}/api/auth/register",
            json={"email": email, "password": PASSWORD},
            timeout=10,
        )
        assert registered.status_code == 201, registered.text
        user_id = registered.json()["data"]["user"]["id"]

        # Offline for real: anything not served by the app is refused, and recorded.
        outside: list[str] = []

        def only_the_app(route: Any) -> None:
            if route.request.url.startswith(f"{base_url}/"):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        browser_context.route("**/*", only_the_app)
        page = browser_context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                problems.append(f"console: {message.text}") if message.type == "error" else None
            ),
        )

        page.goto(f"{base_url}/api/docs")
        docs = DocsPage(page)
        operations = documented_operations(base_url)
        for element_id in operations:
            docs.operation(element_id).wait_for(state="visible")
        assert page.locator(".opblock").count() == len(operations) == 36

        # The token comes from the page's own "Try it out" on the login operation.
        login = docs.try_it_out(
            "operations-auth-login",
            params={},
            body=json.dumps({"email": email, "password": PASSWORD}),
        )
        status, body = docs.answer(login)
        assert status == 200, body
        token = body["data"]["access_token"]
        docs.close("operations-auth-login")
        docs.authorize(token)

        me = docs.try_it_out("operations-auth-getMe", params={}, body=None)
        status, body = docs.answer(me)
        assert (status, body["data"]["id"], body["data"]["email"]) == (200, user_id, email)
        docs.close("operations-auth-getMe")

        # The body is left as Swagger UI fills it, from the document's examples.
        create = docs.try_it_out(
            "operations-tasks-createTask", params={"user_id": user_id}, body=None
        )
        status, body = docs.answer(create)
        assert status == 201, body
        assert (body["data"]["title"], body["data"]["user_id"]) == ("Buy milk", user_id)

        page.evaluate("window.scrollTo(0, 0)")
        save_screenshot(page, create)

        # The page really changed the server's state, under the token it was given.
        listed = httpx.get(
            f"{base_url}/api/{user_id}/tasks",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert [task["id"] for task in listed.json()["data"]] == [body["data"]["id"]]

        assert outside == []
        assert problems == []
