"""/invite/<token>/: accept (as a new account or after signing in) or decline."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model, login
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from spanlens.core import access, audit, members
from spanlens.core.models import Invitation


@never_cache
def invite_page(request: HttpRequest, token: str) -> HttpResponse:
    invitation = members.find_invitation(token)
    if invitation is None:
        return render(request, "core/invite.html", {"invalid": True}, status=404)
    if invitation.status != "pending":
        return render(request, "core/invite.html", {"invitation": invitation, "closed": True}, status=410)
    if request.method != "POST":
        return _render(request, invitation)
    action = request.POST.get("action", "")
    ip = audit.client_ip(request)
    if action == "decline":
        if request.user.is_authenticated and not members.is_invited_account(invitation, request.user):
            return _render(request, invitation, status=403,
                           refused=f"This invitation is for {invitation.email}: only that account can decline it.")
        members.decline_invitation(invitation, user=request.user if request.user.is_authenticated else None, ip=ip)
        return render(request, "core/invite.html", {"invitation": invitation, "declined": True})
    if action == "signup":
        user, errors = _sign_up(request, invitation)
        if errors:
            return _render(request, invitation, status=400, signup_errors=errors)
    elif action == "signin":
        user = authenticate(request, username=request.POST.get("username", ""),
                            password=request.POST.get("password", ""))
        if user is None:
            return _render(request, invitation, status=400, signin_error="Wrong username or password.")
    elif action == "accept" and request.user.is_authenticated:
        user = request.user
    else:
        return _render(request, invitation, status=400)
    try:
        membership = members.accept_invitation(invitation, user, ip=ip)
    except members.WrongAccount as exc:
        return _render(request, invitation, status=403, refused=str(exc))
    except members.MemberError as exc:
        return _render(request, invitation, status=400, signin_error=str(exc))
    if not request.user.is_authenticated or request.user.pk != user.pk:
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    access.switch_organization(request, str(membership.organization_id))
    return redirect(settings.LOGIN_REDIRECT_URL)


def _sign_up(request: HttpRequest, invitation: Invitation):
    User = get_user_model()
    username = (request.POST.get("username") or invitation.email).strip()
    password, again = request.POST.get("password", ""), request.POST.get("password2", "")
    errors: dict[str, str] = {}
    if User.objects.filter(username__iexact=username).exists():
        errors["username"] = "That username is taken. Sign in instead, or pick another."
    if password != again:
        errors["password2"] = "The two passwords differ."
    try:
        validate_password(password, User(username=username, email=invitation.email))
    except ValidationError as exc:
        errors["password"] = " ".join(exc.messages)
    if errors:
        return None, errors
    return User.objects.create_user(username=username, email=invitation.email, password=password), {}


def _render(request, invitation: Invitation, *, status: int = 200, **extra) -> HttpResponse:
    context = {"invitation": invitation, "post": request.POST, **extra}
    if request.user.is_authenticated:
        context["wrong_account"] = not members.is_invited_account(invitation, request.user)
    return render(request, "core/invite.html", context, status=status)
