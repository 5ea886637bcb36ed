"""Settings: projects, Spanlens API keys and provider keys. Writes go through
spanlens.core.services; viewers see the pages read-only and get 403 on POST."""
from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from spanlens.core import access as access_mod
from spanlens.core import apikeys, audit, endpoints, prices, services
from spanlens.core.access import Access, org_required, require_write
from spanlens.core.models import ApiKey, ModelPrice, Project, ProviderKey


def _render(request, template: str, access: Access, tab: str, context: dict, status: int = 200) -> HttpResponse:
    return render(
        request, template, {"tab": tab, "can_write": access.can_write, **context}, status=status
    )


def _who(request: HttpRequest) -> dict:
    """actor and ip for the audit log the services write."""
    return {"actor": request.user, "ip": audit.client_ip(request)}


@org_required
def settings_home(request: HttpRequest, access: Access) -> HttpResponse:
    return redirect("settings_projects")


@org_required
def projects(request: HttpRequest, access: Access) -> HttpResponse:
    error = None
    if request.method == "POST":
        require_write(access)
        action = request.POST.get("action")
        try:
            if action == "create":
                project = services.create_project(access.organization, request.POST.get("name", ""), **_who(request))
                messages.success(request, f"Created project {project.name}.")
            elif action == "security_policy":
                from spanlens.security import services as security_services

                project = access_mod.get_project_or_404(access, request.POST.get("project_id"))
                security_services.set_policy(project, injection=request.POST.get("injection", ""),
                                             pii=request.POST.get("pii", ""), **_who(request))
                messages.success(request, f"Saved the security policy of {project.name}.")
            elif action == "response_cache":
                project = access_mod.get_project_or_404(access, request.POST.get("project_id"))
                services.set_response_cache(project, enabled=request.POST.get("cache") == "on",
                                            ttl=request.POST.get("ttl", ""), **_who(request))
                messages.success(request, f"Response cache of {project.name}: "
                                 + ("on." if project.response_cache_ttl_s else "off."))
            elif action == "rename":
                project = access_mod.get_project_or_404(access, request.POST.get("project_id"))
                services.rename_project(project, request.POST.get("name", ""), **_who(request))
                messages.success(request, f"Renamed to {project.name}.")
            else:
                error = "Unknown action."
        except ValueError as exc:
            error = str(exc).capitalize() + "."
        if error is None:
            return redirect("settings_projects")
    from spanlens.security.models import SecurityPolicy

    rows = list(Project.objects.filter(organization=access.organization).order_by("name"))
    policies = {p.project_id: p for p in SecurityPolicy.objects.filter(project__in=rows)}
    from proxy.cache import DEFAULT_TTL_S, format_ttl

    for row in rows:
        row.policy = policies.get(row.id) or SecurityPolicy(project=row)
        row.cache_ttl = format_ttl(row.response_cache_ttl_s or DEFAULT_TTL_S)
    return _render(request, "dashboard/settings/projects.html", access, "projects",
                   {"projects": rows, "error": error, "injection_choices": SecurityPolicy.Injection.choices,
                    "pii_choices": SecurityPolicy.Pii.choices}, status=400 if error else 200)


@org_required
def api_keys(request: HttpRequest, access: Access) -> HttpResponse:
    error = created = None
    if request.method == "POST":
        require_write(access)
        project = access_mod.get_project_or_404(access, request.POST.get("project_id"))
        name = request.POST.get("name", "").strip() or "default"
        try:
            if len(name) > 200:
                raise apikeys.KeyInputError("name", "the name is longer than 200 characters")
            # A form without the scope boxes (an older page, a script) means every scope, as before.
            scopes = (apikeys.parse_scopes(request.POST.getlist("scopes")) if "scopes_shown" in request.POST
                      else list(apikeys.SCOPES))
            expires_at = _expiry(request.POST.get("expires_on", ""))
            allowed_ips = apikeys.parse_allowed_ips(request.POST.get("allowed_ips", ""))
        except apikeys.KeyInputError as exc:
            error = str(exc)[:1].upper() + str(exc)[1:] + "."
        else:
            # The raw key is rendered in this response only; nothing can show it again.
            created = services.create_api_key(project, name=name, scopes=scopes, expires_at=expires_at,
                                              allowed_ips=allowed_ips, **_who(request))
    keys = ApiKey.objects.filter(organization=access.organization).select_related("project").order_by("-created_at")
    return _render(request, "dashboard/settings/api_keys.html", access, "api_keys", {
        "keys": keys, "created": created, "error": error, "scope_choices": list(apikeys.SCOPE_HELP.items()),
        "form": request.POST if error else None, "form_scopes": request.POST.getlist("scopes") if error else [],
        "projects": Project.objects.filter(organization=access.organization).order_by("name"),
    }, status=400 if error else 200)


@org_required
def sign_in_settings(request: HttpRequest, access: Access) -> HttpResponse:
    from spanlens.core import roles, sso, supabase_auth

    can_manage = roles.can_manage(access.membership)
    error = None
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied("Only owners and admins can change how members sign in.")
        try:
            services.set_password_login(access.organization, disabled=request.POST.get("password_login") == "off",
                                        **_who(request))
        except ValueError as exc:
            error = str(exc)[:1].upper() + str(exc)[1:] + "."
        else:
            messages.success(request, "Password sign-in is off: members sign in with SSO."
                             if access.organization.password_login_disabled else "Password sign-in is on.")
            return redirect("settings_sign_in")
    return _render(request, "dashboard/settings/sign_in.html", access, "sign_in", {
        "organization": access.organization, "can_manage": can_manage, "error": error,
        "sso_enabled": sso.enabled(), "sso_issuer": settings.OIDC_ISSUER,
        "allowed_domains": settings.OIDC_ALLOWED_EMAIL_DOMAINS, "group_roles": settings.OIDC_GROUP_ROLES,
        "supabase_enabled": supabase_auth.enabled(), "supabase_url": settings.SUPABASE_URL,
    }, status=400 if error else 200)


def _expiry(text: str):
    """A date (YYYY-MM-DD) means the key works through that day, UTC."""
    text = text.strip()
    if not text:
        return None
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise apikeys.KeyInputError("expires_on", f"expiry {text!r} is not a date (YYYY-MM-DD)")
    if day < timezone.now().date():
        raise apikeys.KeyInputError("expires_on", "the expiry date is in the past")
    return datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min, tzinfo=datetime.timezone.utc)


@org_required
@require_POST
def revoke_api_key(request: HttpRequest, access: Access, key_id: str) -> HttpResponse:
    require_write(access)
    key = access_mod.get_api_key_or_404(access, key_id)
    services.revoke_api_key(key, **_who(request))
    messages.success(request, f"Revoked {key.prefix}…")
    return redirect("settings_api_keys")


@org_required
def provider_keys(request: HttpRequest, access: Access) -> HttpResponse:
    error = None
    form = {}
    if request.method == "POST":
        require_write(access)
        form = request.POST
        project = access_mod.get_project_or_404(access, request.POST.get("project_id"))
        try:
            key = services.add_provider_key(
                project,
                request.POST.get("provider", ""),
                request.POST.get("secret", ""),
                request.POST.get("name", "").strip(),
                azure_endpoint=request.POST.get("azure_endpoint", "").strip(),
                azure_deployment=request.POST.get("azure_deployment", "").strip(),
                azure_api_version=request.POST.get("azure_api_version", "").strip(),
                base_url=request.POST.get("base_url", "").strip(),
                headers=endpoints.parse_header_lines(request.POST.get("headers", "")),
                price_free=request.POST.get("price_free") == "on",
                **_who(request),
            )
        except ValueError as exc:
            error = str(exc).capitalize() + "."
        else:
            messages.success(request, f"Added {key.name}. The secret is stored encrypted and is never shown again.")
            return redirect("settings_provider_keys")
    keys = ProviderKey.objects.filter(organization=access.organization).select_related("project").order_by("provider", "name")
    return _render(request, "dashboard/settings/provider_keys.html", access, "provider_keys", {
        "keys": keys, "error": error, "form": form,
        "providers": ProviderKey.Provider.choices,
        "projects": Project.objects.filter(organization=access.organization).order_by("name"),
    }, status=400 if error else 200)


@org_required
@require_POST
def provider_key_action(request: HttpRequest, access: Access, key_id: str) -> HttpResponse:
    require_write(access)
    key = access_mod.get_provider_key_or_404(access, key_id)
    action = request.POST.get("action")
    try:
        if action == "rename":
            name = request.POST.get("name", "").strip()
            if not name:
                raise ValueError("the name is empty")
            services.rename_provider_key(key, name, **_who(request))
            messages.success(request, f"Renamed to {name}.")
        elif action == "rotate":
            services.rotate_provider_key(key, request.POST.get("secret", ""), **_who(request))
            messages.success(request, f"Rotated {key.name}; calls use the new secret from now on.")
        elif action == "delete":
            services.delete_provider_key(key, **_who(request))
            messages.success(request, f"Deleted {key.name}.")
        else:
            raise ValueError("unknown action")
    except ValueError as exc:
        messages.error(request, str(exc).capitalize() + ".")
    return redirect("settings_provider_keys")


@org_required
def model_prices(request: HttpRequest, access: Access) -> HttpResponse:
    """Models traffic used without a price (one form each to add it), and a price lookup."""
    can_edit = access.role in prices.PRICE_EDITOR_ROLES
    errors: dict[str, str] = {}
    failed = None
    if request.method == "POST":
        if not can_edit:
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied("Only owners and admins change the price table.")
        provider, model = request.POST.get("provider", ""), request.POST.get("model", "").strip()
        price, errors = prices.parse_price_form(request.POST)
        if price is not None:
            try:
                prices.set_price(provider, model, price, may_change=request.user.is_superuser,
                                 organization=access.organization, **_who(request))
            except ValueError as exc:
                errors["model"] = str(exc)
            else:
                messages.success(request, f"Priced {provider}/{model}: calls from now on get a cost.")
                return redirect("settings_prices")
        failed = {"provider": provider, "model": model, "values": request.POST}
    unpriced = prices.refresh_unpriced_models(access.organization)
    query = request.GET.get("q", "").strip()[:100]
    found = ModelPrice.objects.filter(model__icontains=query)[:50] if query else []
    return _render(request, "dashboard/settings/prices.html", access, "prices", {
        "unpriced": unpriced, "can_edit": can_edit, "errors": errors, "failed": failed,
        "query": query, "found": found, "price_count": ModelPrice.objects.count(),
        "providers": ProviderKey.Provider.choices,
        "error": "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in errors.items()) or None,
    }, status=400 if errors else 200)
