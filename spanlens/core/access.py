"""Who may see and change what. Every view reaches tenant data through here.

Pages use `org_required` (session login, current organization from membership;
the org switcher keeps the choice in the session). The JSON API uses
`api_auth`, which accepts the session cookie or a Spanlens API key
(`Authorization: Bearer sl_live_...`). Outsiders get 404, never 403, so ids of
other tenants do not leak; viewers get 403 on writes.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from spanlens.core import apikeys, audit
from spanlens.core.models import ApiKey, Membership, Organization, Project, ProviderKey

SESSION_ORG = "spanlens_org_id"
SESSION_PROJECT = "spanlens_project_id"


@dataclass
class Access:
    """The tenant a request acts for, and what it may do there."""

    organization: Organization
    membership: Membership | None = None  # None when authenticated by API key
    api_key: ApiKey | None = None

    @property
    def can_write(self) -> bool:
        # An API key acts for its organization; a viewer membership never writes.
        return self.api_key is not None or (self.membership is not None and self.membership.can_write)

    @property
    def role(self) -> str:
        return self.membership.role if self.membership else "api_key"

    @property
    def retention_days(self) -> int:
        return self.organization.retention_days


def memberships(user) -> list[Membership]:
    return list(
        Membership.objects.filter(user=user).select_related("organization").order_by("organization__name")
    )


def current_access(request: HttpRequest) -> Access | None:
    """The signed-in user's current organization: the session's choice, else their first."""
    if not request.user.is_authenticated:
        return None
    cached = getattr(request, "_spanlens_access", None)
    if cached is not None:
        return cached
    rows = memberships(request.user)
    if not rows:
        return None
    chosen = request.session.get(SESSION_ORG)
    membership = next((m for m in rows if str(m.organization_id) == chosen), rows[0])
    request._spanlens_access = Access(membership.organization, membership=membership)
    return request._spanlens_access


def switch_organization(request: HttpRequest, organization_id: str, project_id: str = "") -> None:
    """Store the chosen organization (and optional project) if the user belongs to it."""
    org = get_org_or_404(request, organization_id)
    request.session[SESSION_ORG] = str(org.id)
    project = None
    if project_id:
        project = Project.objects.filter(organization=org, id=uuid_or_404(project_id)).first()
    request.session[SESSION_PROJECT] = str(project.id) if project else ""
    request._spanlens_access = None


def current_project(request: HttpRequest) -> Project | None:
    """The project chosen in the switcher, or None for all projects."""
    access = current_access(request)
    chosen = request.session.get(SESSION_PROJECT)
    if access is None or not chosen:
        return None
    return Project.objects.filter(organization=access.organization, id=chosen).first()


def get_org_or_404(request: HttpRequest, organization_id) -> Organization:
    membership = (
        Membership.objects.filter(user=request.user, organization_id=uuid_or_404(organization_id))
        .select_related("organization")
        .first()
    )
    if membership is None:
        raise Http404("No such organization")
    return membership.organization


def get_project_or_404(access: Access, project_id) -> Project:
    return _scoped_or_404(Project, access, project_id)


def get_provider_key_or_404(access: Access, key_id) -> ProviderKey:
    return _scoped_or_404(ProviderKey, access, key_id)


def get_api_key_or_404(access: Access, key_id) -> ApiKey:
    return _scoped_or_404(ApiKey, access, key_id)


def get_prompt_or_404(access: Access, name: str):
    """A prompt by its name (names are unique per organization)."""
    from evals.models import Prompt

    prompt = Prompt.objects.filter(organization=access.organization, name=name).first()
    if prompt is None:
        raise Http404("No such prompt")
    return prompt


def get_prompt_version_or_404(access: Access, prompt, number):
    from evals.models import PromptVersion

    try:
        number = int(number)
    except (TypeError, ValueError):
        raise Http404("No such version")
    version = PromptVersion.objects.filter(organization=access.organization, prompt=prompt, version=number).first()
    if version is None:
        raise Http404("No such version")
    return version


def get_prompt_experiment_or_404(access: Access, prompt, experiment_id):
    from evals.models import PromptExperiment

    experiment = (
        PromptExperiment.objects.filter(organization=access.organization, prompt=prompt, id=uuid_or_404(experiment_id))
        .select_related("arm_a", "arm_b", "prompt")
        .first()
    )
    if experiment is None:
        raise Http404("No such experiment")
    return experiment


def _scoped_or_404(model, access: Access, object_id):
    obj = model.objects.filter(organization=access.organization, id=uuid_or_404(object_id)).first()
    if obj is None:
        raise Http404(f"No such {model._meta.verbose_name}")
    return obj


def uuid_or_404(value) -> str:
    import uuid

    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError):
        raise Http404("Not found")


def require_write(access: Access) -> None:
    if not access.can_write:
        raise PermissionDenied("Viewers cannot change anything in this organization.")


# --- decorators ----------------------------------------------------------------

def org_required(view):
    """Pages: signed in and a member of some organization; passes `access`."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        access = current_access(request)
        if access is None:
            return render(request, "dashboard/no_organization.html", status=403)
        return view(request, access, *args, **kwargs)

    return wrapper


def api_auth(view):
    """JSON API: session cookie or `Authorization: Bearer sl_live_...`; passes `access`.

    Key-authenticated calls carry no cookie, so CSRF applies only to session calls.
    """

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            access = access_for_api_key(header[7:].strip())
            if access is None:
                return api_error("invalid or revoked API key", 401)
            refusal = key_refusal(access.api_key, request)
            if refusal is not None:
                return refusal
        else:
            access = current_access(request)
            if access is None:
                return api_error("authentication required: sign in or send Authorization: Bearer sl_live_...", 401)
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                rejected = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
                if rejected is not None:
                    return api_error("CSRF token missing or incorrect", 403)
        try:
            return view(request, access, *args, **kwargs)
        except Http404:
            return api_error("not found", 404)
        except PermissionDenied as exc:
            return api_error(str(exc) or "forbidden", 403)

    return wrapper


def access_for_api_key(raw: str) -> Access | None:
    if not raw.startswith(apikeys.KEY_PREFIX):
        return None
    key = (
        ApiKey.objects.filter(key_hash=apikeys.hash_key(raw), revoked_at__isnull=True)
        .select_related("organization")
        .first()
    )
    if key is None:
        return None
    ApiKey.objects.filter(id=key.id).update(last_used_at=timezone.now())
    return Access(key.organization, api_key=key)


def key_refusal(key: ApiKey, request: HttpRequest) -> JsonResponse | None:
    """Expiry, IP allow-list and scope of a key, in that order; None when the call may go on."""
    if key.is_expired:
        return api_error(apikeys.expired_message(), 401)
    ip = audit.client_ip(request)
    if not apikeys.ip_allowed(apikeys.networks(key.allowed_ips), ip):
        return api_error(apikeys.ip_refused_message(ip), 403)
    scope = apikeys.rest_scope(request.method, request.path)
    if scope not in (key.scopes or ()):
        return JsonResponse(
            {"success": False, "error": apikeys.missing_scope_message(scope), "missing_scope": scope}, status=403
        )
    return None


def api_error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"success": False, "error": message}, status=status)
