"""Where a webhook channel may post. Like provider base URLs: private addresses are allowed
(receivers and chat servers such as Mattermost often live there), cloud metadata services
and link-local addresses never (a request there would hand out the host's credentials)."""
from __future__ import annotations

from urllib.parse import urlsplit

from spanlens.core import endpoints


def check_url(url: str) -> str:
    """The URL, stripped, or ValueError saying what is wrong. Checked when saved and again
    before every send, so a name re-pointed at a metadata address later is refused too."""
    url = (url or "").strip()
    if not url:
        raise ValueError("the webhook URL is empty")
    try:
        parts = urlsplit(url)
        parts.port
    except ValueError:
        raise ValueError("the webhook URL is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the webhook URL must start with http:// or https:// and name a host")
    if parts.username or parts.password:
        raise ValueError("the webhook URL must not carry a user name or password")
    try:
        endpoints.check_host(parts.hostname)
    except ValueError as exc:
        raise ValueError(str(exc).replace("the base URL's host", "the webhook host")) from None
    return url


def hint(url: str) -> str:
    """What the page shows of a stored URL: scheme and host, never the token in its path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.path not in ("", "/") else f"{parts.scheme}://{parts.netloc}"
