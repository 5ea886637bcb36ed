"""Saved views (a bar above each list page) and share links (made, listed, revoked, opened)."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from spanlens.core.access import Access, org_required, uuid_or_404
from spanlens.sharing import services, shared
from spanlens.sharing.models import SavedView, Share


def default_redirect(request: HttpRequest, access: Access, page: str) -> HttpResponse | None:
    """A list page opened bare goes to the user's default view, if they chose one."""
    if request.GET or request.htmx or request.method != "GET":
        return None
    view = services.default_view(access.organization, request.user, page)
    if view is None or not view.query:
        return None
    return redirect(f"{services.PAGE_PATHS[page]}?{view.query}")


def _view_or_404(request: HttpRequest, access: Access, view_id) -> SavedView:
    view = SavedView.objects.filter(organization=access.organization, id=uuid_or_404(view_id)).first()
    if view is None or not (view.owner_id == request.user.id or view.shared):
        raise Http404("No such view")
    return view


def _back(page: str, query: str) -> HttpResponse:
    return redirect(f"{services.PAGE_PATHS.get(page, '/requests/')}?{query or 'view=none'}")


@org_required
@require_POST
def save_view(request: HttpRequest, access: Access) -> HttpResponse:
    page = request.POST.get("page", "")
    query = request.POST.get("query", "")
    shared_with_org = request.POST.get("shared") == "on"
    if shared_with_org and not access.can_write:
        raise PermissionDenied("Viewers keep their views private.")
    try:
        view = services.save_view(organization=access.organization, user=request.user, page=page,
                                  name=request.POST.get("view_name", ""), query=query, shared=shared_with_org)
    except services.ViewError as exc:
        messages.error(request, f"View not saved: {exc}")
        return _back(page, services.clean_query(query) if len(query) <= services.MAX_QUERY else "")
    messages.success(request, f"Saved the view {view.name}.")
    return _back(view.page, view.query)


@org_required
@require_POST
def view_action(request: HttpRequest, access: Access, view_id: str) -> HttpResponse:
    view = _view_or_404(request, access, view_id)
    action = request.POST.get("action")
    if action == "delete":
        if view.owner_id != request.user.id:
            raise PermissionDenied("Only its owner deletes a view.")
        services.delete_view(view)
        messages.success(request, f"Deleted the view {view.name}.")
        return _back(view.page, "")
    if action == "default":
        services.set_default_view(organization=access.organization, user=request.user, page=view.page, view=view)
        messages.success(request, f"{view.name} opens by default.")
    elif action == "undefault":
        services.set_default_view(organization=access.organization, user=request.user, page=view.page, view=None)
        messages.success(request, "The page opens unfiltered.")
    return _back(view.page, view.query)


# --- share links --------------------------------------------------------------------

@org_required
def shares_page(request: HttpRequest, access: Access) -> HttpResponse:
    items = Share.objects.filter(organization=access.organization).select_related("created_by")
    return render(request, "sharing/shares.html", {"shares": items, "can_write": access.can_write, "now": timezone.now(),
                                                   "new_link": request.session.pop("spanlens_new_share", None)})


@org_required
@require_POST
def create_share(request: HttpRequest, access: Access) -> HttpResponse:
    if not access.can_write:
        raise PermissionDenied("Viewers cannot share.")
    kind = request.POST.get("kind", "")
    target = shared.target_or_404(access, kind, request.POST.get("target_id", ""))
    try:
        created = services.create_share(
            organization=access.organization, user=request.user, kind=kind, target_id=target,
            hide_bodies=request.POST.get("hide_bodies") == "on",
            hide_user_ids=request.POST.get("hide_user_ids") == "on",
            hide_metadata=request.POST.get("hide_metadata") == "on",
            expires=request.POST.get("expires", "7"),
        )
    except services.ViewError as exc:
        messages.error(request, f"Not shared: {exc}")
        return redirect("/shares/")
    # Shown once on the next page; the database keeps only its hash.
    request.session["spanlens_new_share"] = request.build_absolute_uri(f"/s/{created.token}/")
    return redirect("/shares/")


@org_required
@require_POST
def revoke_share(request: HttpRequest, access: Access, share_id: str) -> HttpResponse:
    if not access.can_write:
        raise PermissionDenied("Viewers cannot revoke shares.")
    share = Share.objects.filter(organization=access.organization, id=uuid_or_404(share_id)).first()
    if share is None:
        raise Http404("No such share")
    services.revoke_share(share)
    messages.success(request, "The link no longer opens.")
    return redirect("/shares/")


def open_share(request: HttpRequest, token: str) -> HttpResponse:
    """Signed out or in: what the share shows, and nothing else."""
    share = services.open_share(token)
    if share is None:
        return render(request, "sharing/shared_gone.html", status=404)
    context = shared.context_for(share)
    if context is None:
        return render(request, "sharing/shared_gone.html", status=404)
    response = render(request, f"sharing/shared_{share.kind}.html", {**context, "share": share})
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response
