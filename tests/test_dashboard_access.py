"""Guards: every dashboard page and API needs a signed-in member (or an API key),
and the access helpers keep tenants apart."""
from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.urls import URLPattern

from dashboard import urls as dashboard_urls
from spanlens.core import access
from spanlens.core.models import Membership

PUBLIC = {"home", "login", "logout", "favicon"}


def _patterns():
    for pattern in dashboard_urls.urlpatterns:
        if isinstance(pattern, URLPattern) and pattern.name not in PUBLIC:
            yield pattern


def _url(pattern: URLPattern) -> str:
    route = str(pattern.pattern)
    for name in pattern.pattern.regex.groupindex:
        route = route.replace(f"<str:{name}>", str(uuid.uuid4())).replace(f"<path:{name}>", str(uuid.uuid4()))
    return "/" + route


@pytest.mark.parametrize("pattern", list(_patterns()), ids=lambda p: p.name)
def test_every_dashboard_url_needs_a_sign_in(db, pattern):
    client = Client()
    url = _url(pattern)
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        if url.startswith("/api/"):
            assert response.status_code in (401, 405), (method, url)
        else:
            assert response.status_code in (302, 405), (method, url)
            if response.status_code == 302:
                assert response["Location"].startswith("/login/")


def test_a_signed_in_user_without_an_organization_sees_no_data(outsider):
    client = Client()
    client.force_login(outsider)
    assert client.get("/requests/").status_code == 403
    assert client.get("/api/v1/requests").status_code == 401


def test_get_org_or_404_checks_membership(rf, owner, org, other_org_and_project):
    request = rf.get("/")
    request.user = owner
    assert access.get_org_or_404(request, org.id) == org
    with pytest.raises(Exception) as exc:
        access.get_org_or_404(request, other_org_and_project[0].id)
    assert exc.typename == "Http404"


def test_roles_decide_can_write(owner, member, viewer, org):
    for user, expected in ((owner, True), (member, True), (viewer, False)):
        membership = Membership.objects.get(user=user, organization=org)
        assert access.Access(org, membership=membership).can_write is expected
