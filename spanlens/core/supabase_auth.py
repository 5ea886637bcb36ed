"""Sign-in through Supabase Auth (GoTrue) when SUPABASE_URL and SUPABASE_ANON_KEY are set.

Email + password goes to /auth/v1/token?grant_type=password; a magic link is
sent by /auth/v1/otp and comes back to /auth/supabase/confirm with a token hash
that /auth/v1/verify exchanges for a session. Either way Supabase's answer is
checked with /auth/v1/user (and, with SUPABASE_JWT_SECRET, the access token's
HS256 signature locally), and the Supabase user maps to one Django user by
verified email. Signing out of Spanlens calls /auth/v1/logout too.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model

from spanlens.core import sso

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("spanlens.auth")

SESSION_TOKEN = "spanlens_supabase_access_token"


class SupabaseError(Exception):
    """A refusal the person signing in should read."""


def enabled() -> bool:
    return bool(settings.SUPABASE_URL and settings.SUPABASE_ANON_KEY)


def _call(method: str, path: str, *, json: dict | None = None, params: dict | None = None,
          token: str | None = None) -> httpx.Response:
    # httpx and PyJWT (~14 MB) are loaded when Supabase sign-in is used, not by every page
    # that imports this module (the login view does).
    import httpx

    headers = {"apikey": settings.SUPABASE_ANON_KEY, "Authorization": f"Bearer {token or settings.SUPABASE_ANON_KEY}"}
    try:
        return httpx.request(method, f"{settings.SUPABASE_URL}/auth/v1{path}", json=json, params=params,
                             headers=headers, timeout=settings.SUPABASE_TIMEOUT_S)
    except httpx.HTTPError as exc:
        log.warning("Supabase Auth unreachable: %s", exc)
        raise SupabaseError("Supabase Auth cannot be reached right now.")


def _message(response: httpx.Response, fallback: str) -> str:
    try:
        body = response.json()
    except ValueError:
        return fallback
    return str(body.get("msg") or body.get("error_description") or body.get("message") or fallback)


def sign_in_with_password(email: str, password: str) -> dict:
    """The session (access_token, user, ...) Supabase hands out, or SupabaseError."""
    response = _call("POST", "/token", params={"grant_type": "password"}, json={"email": email, "password": password})
    if response.status_code != 200:
        raise SupabaseError(_message(response, "Supabase refused the email or password."))
    return response.json()


def send_magic_link(email: str, redirect_to: str) -> None:
    # create_user False: a magic link signs in people Supabase already knows; it never signs anyone up.
    response = _call("POST", "/otp", json={"email": email, "create_user": False},
                     params={"redirect_to": redirect_to})
    if response.status_code not in (200, 204):
        raise SupabaseError(_message(response, "Supabase could not send a sign-in link."))


def verify_link(token_hash: str, kind: str = "email") -> dict:
    if kind not in ("email", "magiclink"):
        raise SupabaseError("This sign-in link is not a magic link.")
    response = _call("POST", "/verify", json={"type": kind, "token_hash": token_hash})
    if response.status_code != 200:
        raise SupabaseError(_message(response, "This sign-in link is invalid or has expired."))
    return response.json()


def current_user(access_token: str) -> dict:
    if settings.SUPABASE_JWT_SECRET:
        import jwt

        try:
            jwt.decode(access_token, settings.SUPABASE_JWT_SECRET, algorithms=["HS256"], audience="authenticated")
        except jwt.PyJWTError as exc:
            raise SupabaseError(f"Supabase's access token did not verify ({exc}).")
    response = _call("GET", "/user", token=access_token)
    if response.status_code != 200:
        raise SupabaseError(_message(response, "Supabase did not recognise the session."))
    return response.json()


def sign_out(access_token: str) -> None:
    try:
        _call("POST", "/logout", token=access_token)
    except SupabaseError:
        pass  # Spanlens signs out regardless; the Supabase token then expires on its own.


class SupabaseBackend:
    """authenticate(request, supabase_session=...) -> the Django user of a Supabase session."""

    def authenticate(self, request, supabase_session: dict | None = None, **kwargs):
        if supabase_session is None or not enabled():
            return None
        access_token = supabase_session.get("access_token") or ""
        info = current_user(access_token)
        email = (info.get("email") or "").strip().lower()
        if not email or not (info.get("email_confirmed_at") or info.get("confirmed_at")):
            raise SupabaseError("Supabase has not confirmed this email address yet: follow the link it sent you.")
        User = get_user_model()
        users = list(User.objects.filter(email__iexact=email)[:2])
        if len(users) > 1:
            raise SupabaseError(f"More than one Spanlens account uses {email}; ask an admin to merge them.")
        if users:
            user = users[0]
        else:
            user = User.objects.create_user(sso.unique_username(email), email=email)
            user.set_unusable_password()
            user.save(update_fields=["password"])
        if sso.password_login_refused(user):
            raise SupabaseError(sso.PASSWORD_REFUSED)
        if request is not None:
            request.session[SESSION_TOKEN] = access_token
        return user if user.is_active else None

    def get_user(self, user_id):
        return get_user_model().objects.filter(pk=user_id, is_active=True).first()


def sign_out_on_logout(request) -> None:
    """Sign-out from Spanlens (user_logged_out, connected in CoreConfig.ready) ends the Supabase session too."""
    token = request.session.get(SESSION_TOKEN) if request is not None else None
    if token and enabled():
        sign_out(token)
