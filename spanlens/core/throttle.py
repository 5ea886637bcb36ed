"""Login throttling (django-axes): what a locked-out person sees, and the audit trail.

Axes counts failed sign-ins per username and per client address on every form
that authenticates (/login/, /admin/login/, the invitation page) and refuses
further attempts for LOGIN_LOCKOUT_MINUTES after LOGIN_FAILURE_LIMIT failures.
Unlock early: Django admin → Axes → Access attempts (delete the row), or
`manage.py axes_reset_username <name>` / `axes_reset_ip <address>` / `axes_reset`.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render
from django.utils import timezone

from spanlens.core import audit
from spanlens.core.models import AuditEvent, Membership

log = logging.getLogger("spanlens.auth")


class SignInThrottle(AxesStandaloneBackend):
    """Axes' check, first in AUTHENTICATION_BACKENDS.

    Every sign-in form passes its request. A call without one (a script, the test
    client's login()) has no address or form to throttle, and axes would raise
    instead of authenticating: let the next backend decide.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def client_ip(request) -> str | None:
    # The same address the audit log records: X-Forwarded-For only counts when the
    # ASGI server trusts the proxy that set it, so a client cannot pick a fresh
    # address per attempt.
    return audit.client_ip(request)


def lockout_message() -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return (
        f"Too many failed sign-ins. Signing in is locked for {minutes} minutes for this account "
        "and this address. An admin can unlock it sooner."
    )


def lockout_response(request, *_):
    """Axes calls this instead of its own page: our sign-in page with the reason, as a 429."""
    form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
    context = {"form": form, "locked_out": lockout_message(), "next": request.POST.get("next", "")}
    return render(request, "registration/login.html", context, status=429)


def record_lockout(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    """A lockout goes to the audit log of every organization the account belongs to."""
    log.warning("sign-in locked out: username=%r ip=%s", username, ip_address)
    user = get_user_model().objects.filter(username=username).first() if username else None
    if user is None:
        return
    since = timezone.now() - max(settings.AXES_COOLOFF_TIME, timedelta(minutes=1))
    path = getattr(request, "path", "") if request is not None else ""
    for organization_id in Membership.objects.filter(user=user).values_list("organization_id", flat=True):
        # Every refused attempt during a lockout signals again: one entry per lockout is enough.
        if AuditEvent.objects.filter(organization_id=organization_id, action="auth.lockout",
                                     target_id=str(user.pk), created_at__gte=since).exists():
            continue
        audit.record(organization_id, "auth.lockout", actor=None, ip=ip_address, target=user,
                     details={"username": username, "path": path})
