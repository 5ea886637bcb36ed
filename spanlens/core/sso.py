"""Sign-in through an OpenID Connect provider (mozilla-django-oidc), and the
per-organization switch that turns password sign-in off.

Everything about the provider comes from its discovery document at
OIDC_ISSUER/.well-known/openid-configuration, fetched when first needed (not at
start-up, so a provider that is down never blocks password sign-in) and kept
OIDC_DISCOVERY_TTL_S. People map to Django users by verified email; a new
email gets a new user with no organization: joining one takes an invitation,
which stays bound to the invited email.
"""
from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from spanlens.core.models import Membership

log = logging.getLogger("spanlens.auth")

SESSION_ERROR = "spanlens_sso_error"
ROLE_RANK = {"viewer": 0, "member": 1, "admin": 2}

_discovery: dict = {}
_discovery_lock = threading.Lock()


class SSOError(Exception):
    """A refusal the person signing in should read."""


def enabled() -> bool:
    return bool(settings.OIDC_ISSUER and settings.OIDC_RP_CLIENT_ID)


def discovery() -> dict:
    with _discovery_lock:
        if _discovery.get("expires", 0) > time.monotonic():
            return _discovery["doc"]
    import httpx

    issuer = settings.OIDC_ISSUER.rstrip("/")
    response = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=settings.OIDC_TIMEOUT_S)
    response.raise_for_status()
    doc = response.json()
    if doc.get("issuer", "").rstrip("/") != issuer:
        raise SSOError(f"the provider's discovery document names issuer {doc.get('issuer')!r}, not {issuer!r}")
    with _discovery_lock:
        _discovery.update(doc=doc, expires=time.monotonic() + settings.OIDC_DISCOVERY_TTL_S)
    return doc


def forget_discovery() -> None:
    _discovery.clear()


def allowed_domain(email: str) -> bool:
    domains = settings.OIDC_ALLOWED_EMAIL_DOMAINS
    return not domains or email.rsplit("@", 1)[-1].lower() in domains


def password_login_refused(user) -> bool:
    """Members of an organization that requires SSO may not use a password.

    Superusers are exempt: they are the way back in when the provider is down.
    """
    if user is None or user.is_superuser:
        return False
    return Membership.objects.filter(user=user, organization__password_login_disabled=True).exists()


PASSWORD_REFUSED = (
    "Your organization requires single sign-on: use “Sign in with SSO” instead of a password."
)


class PasswordGate:
    """Before Django's ModelBackend: stops a correct password of an SSO-only member.

    No get_user: it never signs anyone in, so sessions never name it.

    PermissionDenied ends authenticate() for every backend after this one; the
    password is only checked for members of such organizations, so everyone
    else pays nothing extra.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        User = get_user_model()
        user = User._default_manager.filter(**{User.USERNAME_FIELD: username}).first()
        if user is not None and password_login_refused(user) and user.check_password(password):
            raise PermissionDenied(PASSWORD_REFUSED)
        return None


def _discovered(attr: str, *default):
    from mozilla_django_oidc.utils import import_from_settings

    mapping = {
        "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
        "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
        "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
        "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
    }
    if attr in mapping:
        return discovery().get(mapping[attr], *default)
    return import_from_settings(attr, *default)


class SSOBackend:
    """The authentication backend for OIDC sign-ins. Django builds every backend for every
    sign-in, passwords too, and mozilla-django-oidc's backend brings requests and PyJWT
    (~15 MB a process): so this one loads it (sso_backend.py) only when SSO is on and an
    OIDC callback asks."""

    def authenticate(self, request, **kwargs):
        if not enabled() or "password" in kwargs or request is None:
            return None
        from spanlens.core.sso_backend import OIDCBackend

        return OIDCBackend().authenticate(request, **kwargs)

    def get_user(self, user_id):
        User = get_user_model()
        try:
            return User._default_manager.get(pk=user_id)
        except User.DoesNotExist:
            return None


def unique_username(email: str) -> str:
    User = get_user_model()
    base = email[:140]
    name, n = base, 1
    while User.objects.filter(username=name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def apply_group_roles(user, groups) -> None:
    """OIDC_GROUP_ROLES maps provider groups to roles in the organizations the user
    already belongs to; the highest matching role wins. Owners stay owners, and
    someone in no mapped group keeps the roles they have."""
    mapping = settings.OIDC_GROUP_ROLES
    if not mapping or not isinstance(groups, (list, tuple)):
        return
    roles = [mapping[g] for g in groups if isinstance(g, str) and g in mapping]
    if not roles:
        return
    role = max(roles, key=ROLE_RANK.__getitem__)
    Membership.objects.filter(user=user).exclude(role=Membership.Role.OWNER).exclude(role=role).update(role=role)


class SSOStartView(OIDCAuthenticationRequestView):
    def __init__(self, *args, **kwargs):
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID

    get_settings = staticmethod(_discovered)

    @property
    def OIDC_OP_AUTH_ENDPOINT(self):
        return discovery()["authorization_endpoint"]

    def get(self, request):
        import httpx

        try:
            return super().get(request)
        except (httpx.HTTPError, SSOError, ValueError, KeyError) as exc:
            log.warning("SSO discovery failed: %s", exc)
            request.session[SESSION_ERROR] = "The identity provider cannot be reached right now."
            from django.shortcuts import redirect

            return redirect(settings.LOGIN_URL)


class SSOCallbackView(OIDCAuthenticationCallbackView):
    get_settings = staticmethod(_discovered)

    @property
    def failure_url(self):
        return settings.LOGIN_URL

    def login_failure(self):
        if SESSION_ERROR not in self.request.session:
            self.request.session[SESSION_ERROR] = "Single sign-on did not complete. Try again."
        return super().login_failure()
