"""Pages: rules (/alerts/), one rule's form (/alerts/new/, /alerts/<id>/), channels
(/alerts/channels/) and the delivery log (/alerts/deliveries/). Thin: parse, call a
service, render."""
from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from spanlens.alerts import kinds, lookups, services
from spanlens.alerts.models import AlertRule, Channel, Delivery
from spanlens.alerts.services import AlertError
from spanlens.core import audit
from spanlens.core.access import Access, org_required, require_write
from spanlens.core.models import ApiKey, Project

WINDOW_UNITS = (("min", "minutes", 1), ("h", "hours", 60), ("d", "days", 24 * 60))
DELIVERY_FILTERS = (("all", "All"), ("dead", "Dead letters"), ("retrying", "Retrying"), ("delivered", "Delivered"))


def _who(request: HttpRequest) -> dict:
    return {"actor": request.user, "ip": audit.client_ip(request)}


def _dead_count(access: Access) -> int:
    return Delivery.objects.filter(organization=access.organization, status=Delivery.Status.DEAD).count()


def _page(request, template: str, access: Access, tab: str, context: dict, status: int = 200) -> HttpResponse:
    return render(request, template, {"tab": tab, "can_write": access.can_write, "dead_count": _dead_count(access),
                                      **context}, status=status)


# --- rules ------------------------------------------------------------------------------

@org_required
def rule_list(request: HttpRequest, access: Access) -> HttpResponse:
    rules = list(AlertRule.objects.filter(organization=access.organization)
                 .select_related("project", "api_key", "evaluator").prefetch_related("channels"))
    rows = [{"rule": r, "kind": kinds.KINDS.get(r.kind), "condition": kinds.condition_label(r),
             "value": kinds.format_value(kinds.KINDS[r.kind].unit, r.last_value) if r.kind in kinds.KINDS else "",
             "scope": _scope_label(r), "channels": [c for c in r.channels.all()]} for r in rules]
    return _page(request, "alerts/rules.html", access, "rules", {
        "rows": rows, "firing": sum(1 for r in rules if r.state == AlertRule.State.FIRING and r.is_enabled)})


def _scope_label(rule: AlertRule) -> str:
    parts = []
    if rule.project_id:
        parts.append(f"project {rule.project.name}")
    if rule.end_user:
        parts.append(f"user {rule.end_user}")
    if rule.api_key_id:
        parts.append(f"key {rule.api_key.name}")
    if rule.evaluator_id:
        parts.append(rule.evaluator.name)
    return ", ".join(parts) or "whole organization"


def _split_window(minutes: int) -> tuple[str, str]:
    for unit, _, size in reversed(WINDOW_UNITS):
        if minutes % size == 0:
            return str(minutes // size), unit
    return str(minutes), "min"


def _values_of(rule: AlertRule | None, access: Access) -> dict:
    if rule is None:
        kind = kinds.KINDS["spend"]
        window, unit = _split_window(kind.default_window)
        return {"kind": "spend", "threshold": f"{kind.default_threshold:g}", "window": window, "window_unit": unit,
                "min_requests": "10", "cooldown_minutes": "60", "is_enabled": True,
                # The owners' email, as the default rules have it; unticked in one click.
                "channels": [str(i) for i in Channel.objects.filter(organization=access.organization, is_default=True)
                             .values_list("id", flat=True)]}
    window, unit = _split_window(rule.window_minutes)
    return {"name": rule.name, "kind": rule.kind,
            "threshold": "" if rule.threshold is None else f"{rule.threshold:g}", "window": window,
            "window_unit": unit, "min_requests": str(rule.min_requests), "cooldown_minutes": str(rule.cooldown_minutes),
            "project": str(rule.project_id or ""), "end_user": rule.end_user, "api_key": str(rule.api_key_id or ""),
            "evaluator": str(rule.evaluator_id or ""), "is_enabled": rule.is_enabled,
            "channels": [str(c.id) for c in rule.channels.all()]}


def _window_minutes(post) -> str:
    """The window as minutes, from a number and a unit; bad input is left for the service to refuse."""
    sizes = {unit: size for unit, _, size in WINDOW_UNITS}
    number = (post.get("window") or "").strip()
    try:
        value = float(number) * sizes.get(post.get("window_unit", "min"), 1)
    except ValueError:
        return number
    return str(int(value)) if value == int(value) else str(value)


UNIT_WORDS = {"usd": "USD", "percent": "%", "ms": "ms", "count": "", "score": "(0–1)"}


def _uses(kind: kinds.Kind) -> str:
    """The form's field groups a kind reads (the page hides the others)."""
    uses = list(kind.scopes)
    if kind.uses_threshold:
        uses.append("threshold")
    if kind.uses_window:
        uses.append("window")
    if kind.uses_min_requests:
        uses.append("min_requests")
    return " ".join(uses) or "none"


def _form_context(access: Access, values: dict, errors: dict, rule: AlertRule | None) -> dict:
    from evals.models import Evaluator

    org = access.organization
    return {
        "rule": rule, "values": values, "errors": errors,
        "kinds": [{"key": key, "k": k, "uses": _uses(k), "unit": UNIT_WORDS[k.unit]} for key, k in kinds.KINDS.items()],
        "window_units": WINDOW_UNITS,
        "projects": Project.objects.filter(organization=org).order_by("name"),
        "api_keys": ApiKey.objects.filter(organization=org, revoked_at__isnull=True).order_by("name"),
        "evaluators": Evaluator.objects.filter(organization=org).order_by("name"),
        "channels": Channel.objects.filter(organization=org),
        "notifications": rule.notifications.all()[:10] if rule else [],
    }


def _rule_form(request: HttpRequest, access: Access, rule: AlertRule | None) -> HttpResponse:
    values, errors = _values_of(rule, access), {}
    if request.method == "POST":
        require_write(access)
        if rule is not None and request.POST.get("action") == "delete":
            services.delete_rule(rule, **_who(request))
            messages.success(request, f"Rule “{rule.name}” deleted.")
            return redirect("/alerts/")
        post = request.POST
        values = {**post.dict(), "channels": post.getlist("channels"), "is_enabled": post.get("is_enabled") == "on"}
        try:
            saved = services.save_rule(
                access.organization, rule, name=post.get("name", ""), kind=post.get("kind", ""),
                threshold=post.get("threshold", ""), window_minutes=_window_minutes(post),
                min_requests=post.get("min_requests", ""), cooldown_minutes=post.get("cooldown_minutes", ""),
                project_id=post.get("project", ""), end_user=post.get("end_user", ""),
                api_key_id=post.get("api_key", ""), evaluator_id=post.get("evaluator", ""),
                channel_ids=post.getlist("channels"), is_enabled=values["is_enabled"], **_who(request))
        except AlertError as exc:
            errors[exc.field] = exc.message
        else:
            messages.success(request, f"Rule “{saved.name}” {'saved' if rule else 'created'}.")
            return redirect("/alerts/")
    return _page(request, "alerts/rule_form.html", access, "rules", _form_context(access, values, errors, rule),
                 status=400 if errors else 200)


@org_required
def rule_new(request: HttpRequest, access: Access) -> HttpResponse:
    return _rule_form(request, access, None)


@org_required
def rule_edit(request: HttpRequest, access: Access, rule_id: str) -> HttpResponse:
    return _rule_form(request, access, lookups.rule_or_404(access, rule_id))


@org_required
@require_POST
def rule_toggle(request: HttpRequest, access: Access, rule_id: str) -> HttpResponse:
    require_write(access)
    rule = lookups.rule_or_404(access, rule_id)
    services.set_rule_enabled(rule, not rule.is_enabled, **_who(request))
    messages.success(request, f"Rule “{rule.name}” {'enabled' if rule.is_enabled else 'paused'}.")
    return redirect("/alerts/")


# --- channels ---------------------------------------------------------------------------

@org_required
def channel_list(request: HttpRequest, access: Access) -> HttpResponse:
    values, errors, secret, status = {"kind": "slack"}, {}, None, 200
    if request.method == "POST":
        require_write(access)
        post = request.POST
        values = post.dict()
        try:
            channel, raw_secret = services.create_channel(
                access.organization, kind=post.get("kind", ""), name=post.get("name", ""),
                email_to=post.get("email_to", ""), email_owners=post.get("email_owners") == "on",
                url=post.get("url", ""), **_who(request))
        except AlertError as exc:
            errors[exc.field], status = exc.message, 400
        else:
            if raw_secret is None:
                messages.success(request, f"Channel “{channel.name}” added. Send a test to check it.")
                return redirect("/alerts/channels/")
            # Rendered, not redirected: the secret must not sit in a session or a URL.
            secret, values = {"channel": channel, "value": raw_secret}, {"kind": "slack"}
    return _channels_page(request, access, values=values, errors=errors, secret=secret, status=status)


def _channels_page(request, access: Access, *, values=None, errors=None, secret=None, edit_errors=None,
                   status=200) -> HttpResponse:
    channels = list(Channel.objects.filter(organization=access.organization).prefetch_related("rules"))
    last = {}
    for d in (Delivery.objects.filter(organization=access.organization).order_by("channel_id", "-created_at")
              .select_related("notification")):
        last.setdefault(d.channel_id, d)
    return _page(request, "alerts/channels.html", access, "channels", {
        "channels": [{"c": c, "last": last.get(c.id), "rules": len(c.rules.all())} for c in channels],
        "values": values or {"kind": "slack"}, "errors": errors or {}, "secret": secret,
        "edit_errors": edit_errors or {}, "kinds": Channel.Kind.choices,
    }, status=status)


@org_required
@require_POST
def channel_action(request: HttpRequest, access: Access, channel_id: str) -> HttpResponse:
    require_write(access)
    channel = lookups.channel_or_404(access, channel_id)
    action, post = request.POST.get("action", ""), request.POST
    if action == "test":
        delivery = services.send_test(channel, **_who(request))
        if delivery.status == Delivery.Status.DELIVERED:
            messages.success(request, f"Test sent to “{channel.name}”"
                                      + (f" (HTTP {delivery.response_status})." if delivery.response_status else "."))
        else:
            messages.error(request, f"Test to “{channel.name}” failed: {delivery.last_error}")
    elif action == "rotate":
        secret = services.rotate_channel_secret(channel, **_who(request))
        return _channels_page(request, access, secret={"channel": channel, "value": secret})
    elif action == "delete":
        services.delete_channel(channel, **_who(request))
        messages.success(request, f"Channel “{channel.name}” deleted.")
    elif action == "update":
        try:
            services.update_channel(channel, name=post.get("name", ""), email_to=post.get("email_to", ""),
                                    email_owners=post.get("email_owners") == "on", url=post.get("url", ""),
                                    is_active=post.get("is_active") == "on", **_who(request))
        except AlertError as exc:
            return _channels_page(request, access, edit_errors={"id": channel.id, "field": exc.field,
                                                                "message": exc.message}, status=400)
        messages.success(request, f"Channel “{channel.name}” saved.")
    else:
        messages.error(request, "Unknown action.")
    return redirect("/alerts/channels/")


# --- deliveries -------------------------------------------------------------------------

@org_required
def delivery_list(request: HttpRequest, access: Access) -> HttpResponse:
    shown = request.GET.get("status", "all")
    if shown not in dict(DELIVERY_FILTERS):
        shown = "all"
    rows = (Delivery.objects.filter(organization=access.organization)
            .select_related("channel", "notification", "notification__rule").order_by("-created_at"))
    if shown != "all":
        rows = rows.filter(status=shown)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return _page(request, "alerts/deliveries.html", access, "deliveries", {
        "page": page, "shown": shown, "filters": DELIVERY_FILTERS})


@org_required
@require_POST
def delivery_redeliver(request: HttpRequest, access: Access, delivery_id: str) -> HttpResponse:
    require_write(access)
    delivery = lookups.delivery_or_404(access, delivery_id)
    try:
        services.redeliver(delivery, **_who(request))
    except AlertError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Delivery to “{delivery.channel.name}” queued again.")
    return redirect(request.POST.get("next") if request.POST.get("next", "").startswith("/alerts/")
                    else "/alerts/deliveries/")
