"""Every write of saved views and share links."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from spanlens.sharing.models import DefaultView, SavedView, Share

PAGE_PATHS = {"requests": "/requests/", "traces": "/traces", "users": "/users/", "sessions": "/sessions/"}
# Parameters that describe where one is in a list, not what it shows.
_NOT_SAVED = frozenset({"page", "pos", "view"})
MAX_QUERY = 2000
SHARE_EXPIRIES = {"1": timedelta(days=1), "7": timedelta(days=7), "30": timedelta(days=30), "never": None}


class ViewError(ValueError):
    pass


def clean_query(raw: str) -> str:
    pairs = [(k, v) for k, v in parse_qsl(raw or "", keep_blank_values=False) if k not in _NOT_SAVED]
    query = urlencode(pairs)
    if len(query) > MAX_QUERY:
        raise ViewError(f"The filters are longer than {MAX_QUERY} characters.")
    return query


def visible_views(organization, user, page: str):
    """The user's own views of a page and those shared with the organization."""
    return SavedView.objects.filter(Q(owner=user) | Q(shared=True), organization=organization, page=page)


def save_view(*, organization, user, page: str, name: str, query: str, shared: bool) -> SavedView:
    name = (name or "").strip()
    if page not in PAGE_PATHS:
        raise ViewError("Unknown page.")
    if not name:
        raise ViewError("Give the view a name.")
    if len(name) > 80:
        raise ViewError("A view name has at most 80 characters.")
    view, _ = SavedView.objects.update_or_create(
        organization=organization, owner=user, page=page, name=name,
        defaults={"query": clean_query(query), "shared": shared},
    )
    return view


def delete_view(view: SavedView) -> None:
    view.delete()


def set_default_view(*, organization, user, page: str, view: SavedView | None) -> None:
    if view is None:
        DefaultView.objects.filter(organization=organization, user=user, page=page).delete()
        return
    DefaultView.objects.update_or_create(organization=organization, user=user, page=page, defaults={"view": view})


def default_view(organization, user, page: str) -> SavedView | None:
    chosen = DefaultView.objects.filter(organization=organization, user=user, page=page).select_related("view").first()
    if chosen is None:
        return None
    view = chosen.view
    # A colleague may have stopped sharing the view since it was chosen.
    return view if view.owner_id == user.id or view.shared else None


# --- share links --------------------------------------------------------------------

def hash_token(raw: str) -> str:
    # 256 random bits: a fast hash is safe, and lookups stay one indexed read.
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class CreatedShare:
    share: Share
    token: str  # shown once; only its hash is stored


def create_share(*, organization, user, kind: str, target_id, hide_bodies: bool, hide_user_ids: bool,
                 hide_metadata: bool, expires: str) -> CreatedShare:
    if kind not in Share.Kind.values:
        raise ViewError("kind must be request or trace.")
    if expires not in SHARE_EXPIRIES:
        raise ViewError(f"expires must be one of {', '.join(SHARE_EXPIRIES)}.")
    token = secrets.token_urlsafe(32)
    lifetime = SHARE_EXPIRIES[expires]
    share = Share.objects.create(
        organization=organization, created_by=user, kind=kind, target_id=target_id,
        token_hash=hash_token(token), hide_bodies=hide_bodies, hide_user_ids=hide_user_ids,
        hide_metadata=hide_metadata, expires_at=timezone.now() + lifetime if lifetime else None,
    )
    return CreatedShare(share, token)


def revoke_share(share: Share) -> None:
    if share.revoked_at is None:
        share.revoked_at = timezone.now()
        share.save(update_fields=["revoked_at"])


def open_share(token: str) -> Share | None:
    """The live share a link's token names, its view counted; None when unknown, revoked or expired."""
    if not token or len(token) > 100:
        return None
    share = Share.objects.filter(token_hash=hash_token(token), revoked_at__isnull=True).first()
    if share is None or (share.expires_at is not None and share.expires_at <= timezone.now()):
        return None
    with transaction.atomic():
        Share.objects.filter(pk=share.pk).update(view_count=F("view_count") + 1, last_viewed_at=timezone.now())
    share.refresh_from_db(fields=["view_count", "last_viewed_at"])
    return share
