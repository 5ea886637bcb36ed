"""What each channel receives for a notification: Slack and Discord incoming-webhook bodies,
the generic webhook's JSON, and the email. Pure functions of the notification."""
from __future__ import annotations

EVENT_WORDS = {"firing": "Firing", "resolved": "Resolved", "alert": "Alert", "test": "Test"}
EVENT_EMOJI = {"firing": "🔴", "resolved": "✅", "alert": "🟠", "test": "🔵"}
DISCORD_COLORS = {"firing": 0xD92D20, "resolved": 0x12B76A, "alert": 0xF79009, "test": 0x2E90FA}


def headline(notification) -> str:
    return f"{EVENT_WORDS.get(notification.event, 'Alert')}: {notification.title}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn reads &, < and > as markup; escaped, alert text cannot forge a link or a mention.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(notification, organization_name: str) -> dict:
    """An incoming-webhook message: `text` for notifications and old clients, blocks for the rest."""
    head = headline(notification)
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(head, 150), "emoji": True}},
    ]
    if notification.text:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(_slack_escape(notification.text), 3000)}})
    fields = [{"type": "mrkdwn", "text": _clip(f"*{_slack_escape(k)}*\n{_slack_escape(v)}", 2000)}
              for k, v in notification.fields[:10]]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    context = f"Spanlens · {_slack_escape(organization_name)}"
    if notification.url:
        context += f" · <{notification.url}|Open in Spanlens>"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(context, 3000)}]})
    text = f"{EVENT_EMOJI.get(notification.event, '')} {_slack_escape(head)}".strip()
    return {"text": _clip(text, 3000), "blocks": blocks}


def discord(notification, organization_name: str) -> dict:
    """An execute-webhook body with one embed. Mentions are switched off: alert text quotes
    model names and error messages, which must not ping @everyone."""
    embed: dict = {
        "title": _clip(headline(notification), 256),
        "color": DISCORD_COLORS.get(notification.event, DISCORD_COLORS["alert"]),
        "timestamp": notification.created_at.isoformat(),
        "footer": {"text": _clip(f"Spanlens · {organization_name}", 2048)},
    }
    if notification.text:
        embed["description"] = _clip(notification.text, 4096)
    if notification.url:
        embed["url"] = notification.url
    if notification.fields:
        embed["fields"] = [{"name": _clip(k, 256), "value": _clip(v or "—", 1024), "inline": True}
                           for k, v in notification.fields[:25]]
    return {"username": "Spanlens", "embeds": [embed], "allowed_mentions": {"parse": []}}


def webhook(notification, organization) -> dict:
    """The generic webhook's JSON (its `type` is also in the Spanlens-Event header)."""
    rule = notification.rule
    return {
        "id": str(notification.id),
        "type": f"alert.{notification.event}",
        "created_at": notification.created_at.isoformat(),
        "organization": {"id": str(organization.id), "name": organization.name},
        "rule": {"id": str(rule.id), "name": rule.name, "kind": rule.kind} if rule else None,
        "kind": notification.kind,
        "title": notification.title,
        "text": notification.text,
        "value": notification.value,
        "threshold": notification.threshold,
        "fields": {k: v for k, v in notification.fields},
        "url": notification.url or None,
        "key": notification.key or None,
    }


def email(notification, organization_name: str) -> tuple[str, str]:
    subject = _clip(f"[Spanlens] {headline(notification)}", 200)
    lines = [headline(notification), ""]
    if notification.text:
        lines += [notification.text, ""]
    lines += [f"{k}: {v}" for k, v in notification.fields]
    if notification.url:
        lines += ["", f"Open in Spanlens: {notification.url}"]
    lines += ["", f"— Spanlens alerts for {organization_name}. Change who gets these under Alerts → Channels."]
    return subject, "\n".join(lines)
