"""/login/: password, "Sign in with SSO" (OpenID Connect) and Supabase Auth.

SSO and Supabase show only when configured; refusals from either come back
here as a message, never an error page.
"""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model, login
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from spanlens.core import sso, supabase_auth

SESSION_NOTICE = "spanlens_login_notice"


class SignInForm(AuthenticationForm):
    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            # Say why only to someone who knows the password; anyone else gets the usual refusal.
            user = get_user_model().objects.filter(username=self.cleaned_data.get("username")).first()
            if user is not None and user.check_password(self.cleaned_data.get("password") or "") \
                    and sso.password_login_refused(user):
                raise ValidationError(sso.PASSWORD_REFUSED, code="sso_required")
            raise


class SignInView(LoginView):
    form_class = SignInForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        session = self.request.session
        context.update(
            sso_enabled=sso.enabled(),
            sso_label=settings.OIDC_SSO_LABEL,
            sso_error=session.pop(sso.SESSION_ERROR, None),
            supabase_enabled=supabase_auth.enabled(),
            supabase_notice=session.pop(SESSION_NOTICE, None),
        )
        return context


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _back_to_login(request: HttpRequest, error: str | None = None, notice: str | None = None) -> HttpResponse:
    if error:
        request.session[sso.SESSION_ERROR] = error
    if notice:
        request.session[SESSION_NOTICE] = notice
    return redirect(settings.LOGIN_URL)


def _sign_in(request: HttpRequest, session: dict) -> HttpResponse:
    try:
        user = authenticate(request, supabase_session=session)
    except supabase_auth.SupabaseError as exc:
        return _back_to_login(request, str(exc))
    if user is None:
        return _back_to_login(request, "Supabase sign-in did not complete. Try again.")
    token = request.session.get(supabase_auth.SESSION_TOKEN)
    login(request, user, backend="spanlens.core.supabase_auth.SupabaseBackend")
    request.session[supabase_auth.SESSION_TOKEN] = token
    return redirect(_next(request))


@require_POST
@never_cache
def supabase_password(request: HttpRequest) -> HttpResponse:
    if not supabase_auth.enabled():
        return _back_to_login(request, "Supabase Auth is not configured on this Spanlens.")
    email = request.POST.get("email", "").strip()
    password = request.POST.get("password", "")
    if not email or not password:
        return _back_to_login(request, "Enter your email and password.")
    try:
        session = supabase_auth.sign_in_with_password(email, password)
    except supabase_auth.SupabaseError as exc:
        return _back_to_login(request, str(exc))
    return _sign_in(request, session)


@require_POST
@never_cache
def supabase_magic_link(request: HttpRequest) -> HttpResponse:
    if not supabase_auth.enabled():
        return _back_to_login(request, "Supabase Auth is not configured on this Spanlens.")
    email = request.POST.get("email", "").strip()
    if "@" not in email:
        return _back_to_login(request, "Enter the email address to send the sign-in link to.")
    try:
        supabase_auth.send_magic_link(email, request.build_absolute_uri(reverse("supabase_confirm")))
    except supabase_auth.SupabaseError as exc:
        return _back_to_login(request, str(exc))
    return _back_to_login(request, notice=f"If {email} has an account, a sign-in link is on its way.")


@never_cache
def supabase_confirm(request: HttpRequest) -> HttpResponse:
    """The magic link lands here: ?token_hash=...&type=email (Supabase's server-side link format)."""
    if not supabase_auth.enabled():
        return _back_to_login(request, "Supabase Auth is not configured on this Spanlens.")
    token_hash = request.GET.get("token_hash", "")
    if not token_hash:
        return _back_to_login(request, "This sign-in link is incomplete: open the newest link from your email.")
    try:
        session = supabase_auth.verify_link(token_hash, request.GET.get("type", "email"))
    except supabase_auth.SupabaseError as exc:
        return _back_to_login(request, str(exc))
    return _sign_in(request, session)
