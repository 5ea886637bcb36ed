"""Dashboard pages. Each view: resolve access, parse input, call a query, render."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from spanlens.core import access as access_mod
from spanlens.core.access import Access, org_required


def home(request: HttpRequest) -> HttpResponse:
    return redirect("/requests/" if request.user.is_authenticated else "/login/")


@login_required
@require_POST
def switch_org(request: HttpRequest) -> HttpResponse:
    org_id, _, project_id = request.POST.get("target", "").partition(":")
    access_mod.switch_organization(request, org_id, project_id)
    return redirect(request.POST.get("next") or "/requests/")


def _empty(heading: str, lede: str, empty_text: str):
    @org_required
    def view(request: HttpRequest, access: Access) -> HttpResponse:
        return render(
            request,
            "dashboard/empty_page.html",
            {"heading": heading, "lede": lede, "empty_text": empty_text},
        )

    return view


traces = _empty(
    "Traces",
    "Calls grouped by the observe() wrapper into waterfalls.",
    "Wrap a workflow in observe() in the SDK and its calls appear here as a trace.",
)
prompts = _empty(
    "Prompts",
    "Versioned prompts and the calls that used them.",
    "Send the x-spanlens-prompt-version header with a call to link it to a prompt version.",
)
evals = _empty(
    "Evals",
    "Score model outputs against datasets.",
    "Create an eval run to compare models on your own examples.",
)
