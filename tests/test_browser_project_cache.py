"""In a real browser: turn a project's response cache on from Settings → Projects."""
from __future__ import annotations

import os

import pytest

from spanlens.core.models import Project
from tests.test_browser_sharing import CHROMIUM, SHOTS, browser, signed_in  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed")


def test_an_owner_turns_the_project_cache_on_with_a_ttl(live_db, spanlens_server, browser, owner, org, project):  # noqa: F811
    page = signed_in(browser, spanlens_server, owner)
    page.goto(f"{spanlens_server.url}/settings/projects/")
    row = page.locator(f'[data-cache-project="{project.name}"]')
    row.locator("select[name=cache]").select_option("on")
    row.locator("input[name=ttl]").fill("2h")
    row.locator("button").click()
    page.wait_for_selector("text=Response cache of")
    assert Project.objects.get(id=project.id).response_cache_ttl_s == 7200
    page.locator("#response-cache").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "settings-project-cache.png"), full_page=True)
    assert page.locator(f'[data-cache-project="{project.name}"] input[name=ttl]').input_value() == "2h"
