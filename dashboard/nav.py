"""Template context for the shell: current organization, switcher options, active section."""
from __future__ import annotations

from spanlens.core import access as access_mod
from spanlens.core import health
from spanlens.core.models import Project

SECTIONS = ("requests", "traces", "users", "sessions", "savings", "anomalies", "security", "budgets", "prompts",
            "evals", "datasets", "experiments", "annotation", "alerts", "settings", "shares")


def nav(request) -> dict:
    access = access_mod.current_access(request) if hasattr(request, "user") else None
    first = request.path.strip("/").split("/", 1)[0]
    section = first if first in SECTIONS else ("home" if first == "" else "")
    # After switching, land on the same section (a detail page's id belongs to the old org).
    switch_next = {"settings": "/settings/", "home": "/"}.get(section, f"/{section}/" if section else "/requests/")
    if section == "traces":
        switch_next = "/traces"
    context = {"section": section, "access": access, "switch_options": [], "switch_next": switch_next}
    if access is None:
        return {"nav": context}
    # In-memory figures of this process's writer: no I/O, so every page can afford it.
    context["log_warnings"] = health.log_writer_warnings(health.log_writer_status())
    current_project = request.session.get(access_mod.SESSION_PROJECT) or ""
    orgs = [m.organization for m in access_mod.memberships(request.user)]
    projects = Project.objects.filter(organization__in=orgs).order_by("name")
    options = []
    for org in orgs:
        is_current = org.id == access.organization.id
        options.append({
            "value": f"{org.id}:",
            "label": f"{org.name} · All projects",
            "selected": is_current and not current_project,
        })
        for project in projects:
            if project.organization_id == org.id:
                options.append({
                    "value": f"{org.id}:{project.id}",
                    "label": f"{org.name} · {project.name}",
                    "selected": is_current and str(project.id) == current_project,
                })
    context["switch_options"] = options
    return {"nav": context}
