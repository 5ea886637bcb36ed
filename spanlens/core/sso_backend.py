"""mozilla-django-oidc's backend, fitted to Spanlens: the provider's endpoints from its
discovery document, Spanlens's checks of the id token and the claims, users matched by
verified email and roles from provider groups. Loaded by sso.SSOBackend when an OIDC
callback needs it: it brings requests and PyJWT."""
from __future__ import annotations

import logging
import time

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from spanlens.core.sso import (SESSION_ERROR, SSOError, _discovered, allowed_domain, apply_group_roles, discovery,
                               unique_username)

log = logging.getLogger("spanlens.auth")


class OIDCBackend(OIDCAuthenticationBackend):
    # The provider's endpoints are read from its discovery document when a sign-in needs
    # them, not from settings when the backend is built.
    def __init__(self, *args, **kwargs):
        self.UserModel = get_user_model()
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None

    get_settings = staticmethod(_discovered)

    @property
    def OIDC_OP_TOKEN_ENDPOINT(self):
        return discovery()["token_endpoint"]

    @property
    def OIDC_OP_JWKS_ENDPOINT(self):
        return discovery()["jwks_uri"]

    @property
    def OIDC_OP_USER_ENDPOINT(self):
        return discovery().get("userinfo_endpoint")

    def authenticate(self, request, **kwargs):
        try:
            return super().authenticate(request, **kwargs)
        except SSOError as exc:
            request.session[SESSION_ERROR] = str(exc)
            log.warning("SSO sign-in refused: %s", exc)
            return None
        except (SuspiciousOperation, httpx.HTTPError, ValueError) as exc:
            request.session[SESSION_ERROR] = "The identity provider's answer could not be verified."
            log.warning("SSO sign-in failed: %s", exc)
            return None

    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        aud = payload.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if payload.get("iss", "").rstrip("/") != settings.OIDC_ISSUER.rstrip("/"):
            raise SuspiciousOperation("id token from another issuer")
        if settings.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("id token for another client")
        if float(payload.get("exp", 0)) < time.time():
            raise SuspiciousOperation("id token expired")
        return payload

    def get_userinfo(self, access_token, id_token, payload):
        # The id token's claims, completed by the userinfo endpoint where there is one.
        claims = dict(payload)
        if self.OIDC_OP_USER_ENDPOINT:
            claims.update(super().get_userinfo(access_token, id_token, payload))
        return claims

    def verify_claims(self, claims) -> bool:
        email = (claims.get("email") or "").strip().lower()
        if not email:
            raise SSOError("The identity provider sent no email address for this account.")
        if settings.OIDC_REQUIRE_VERIFIED_EMAIL and claims.get("email_verified") is not True:
            raise SSOError(f"The identity provider has not verified {email}.")
        if not allowed_domain(email):
            raise SSOError(f"Accounts from {email.rsplit('@', 1)[-1]} may not sign in to this Spanlens.")
        return True

    def filter_users_by_claims(self, claims):
        return self.UserModel.objects.filter(email__iexact=(claims.get("email") or "").strip())

    def create_user(self, claims):
        email = claims["email"].strip().lower()
        user = self.UserModel.objects.create_user(unique_username(email), email=email)
        user.set_unusable_password()
        user.save(update_fields=["password"])
        return self.update_user(user, claims)

    def update_user(self, user, claims):
        apply_group_roles(user, claims.get(settings.OIDC_GROUPS_CLAIM) or [])
        return user
