"""Outgoing email. Resend (through django-anymail) when RESEND_API_KEY is set, an SMTP
server when EMAIL_HOST is; otherwise nothing is sent and callers show the link instead."""
from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage

log = logging.getLogger("spanlens.email")


def enabled() -> bool:
    return bool(settings.RESEND_API_KEY or getattr(settings, "EMAIL_HOST", ""))


def send_invitation(invitation, accept_url: str) -> tuple[bool, str | None]:
    """(sent, error). Never raises: a failed send leaves the link for an admin to hand over."""
    if not enabled():
        return False, None
    inviter = invitation.invited_by.get_username() if invitation.invited_by else "Someone"
    body = (
        f"{inviter} invited you to join {invitation.organization.name} on Spanlens as {invitation.role}.\n\n"
        f"Accept (or decline) here: {accept_url}\n\n"
        f"The link works once and expires in {invitation.VALID_DAYS} days."
    )
    message = EmailMessage(
        subject=f"Join {invitation.organization.name} on Spanlens",
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[invitation.email],
    )
    try:
        message.send()
    except Exception as exc:  # provider down, sender not verified, …
        log.warning("invitation email to %s failed: %s", invitation.email, exc)
        return False, str(exc)[:300]
    return True, None
