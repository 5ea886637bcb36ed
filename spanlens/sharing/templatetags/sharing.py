from django import template

from spanlens.core.access import current_access
from spanlens.sharing import services

register = template.Library()


@register.inclusion_tag("sharing/_views_bar.html", takes_context=True)
def views_bar(context, page: str):
    request = context["request"]
    access = current_access(request)
    if access is None:
        return {"views": []}
    raw = request.GET.urlencode()
    current = services.clean_query(raw) if len(raw) <= services.MAX_QUERY else ""
    default = services.default_view(access.organization, request.user, page)
    views = [
        {"view": v, "active": bool(current) and v.query == current,
         "is_default": default is not None and v.id == default.id, "mine": v.owner_id == request.user.id}
        for v in services.visible_views(access.organization, request.user, page).select_related("owner")
    ]
    return {"views": views, "page": page, "path": services.PAGE_PATHS[page], "query": current,
            "can_share": access.can_write, "all_active": not current, "csrf_token": context.get("csrf_token")}


@register.inclusion_tag("sharing/_share_form.html", takes_context=True)
def share_box(context, kind: str, target_id):
    access = current_access(context["request"])
    return {"can_share": access is not None and access.can_write, "kind": kind, "target_id": target_id,
            "csrf_token": context.get("csrf_token")}
