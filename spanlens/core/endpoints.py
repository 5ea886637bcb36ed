"""Which upstream base URLs and extra headers a provider key may carry.

Self-hosted models live on private addresses, so those are allowed. What is refused:
cloud metadata services (a proxied call there would hand out the host's cloud
credentials), link-local and unspecified addresses, and Spanlens itself (a loop).
"""
from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from django.conf import settings

# Providers that speak OpenAI's API and so can point at another base URL.
BASE_URL_PROVIDERS = frozenset({
    "openai", "mistral", "groq", "deepseek", "xai", "openrouter", "together", "fireworks", "custom",
})

_METADATA_NAMES = frozenset({
    "metadata", "metadata.google.internal", "metadata.goog", "metadata.azure.internal",
    "instance-data", "instance-data.ec2.internal", "metadata.tencentyun.com", "metadata.platformequinix.com",
})
_BLOCKED_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "169.254.0.0/16",      # link-local: AWS, GCP, Azure, OCI metadata (169.254.169.254), ECS (169.254.170.2)
    "fe80::/10",           # IPv6 link-local
    "fd00:ec2::254/128",   # AWS metadata over IPv6
    "100.100.100.200/32",  # Alibaba Cloud metadata
    "0.0.0.0/8",
    "::/128",
    "224.0.0.0/4",
    "ff00::/8",
))
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
# Headers the proxy owns: hop-by-hop ones, and the ones it sets itself.
_RESERVED_HEADERS = frozenset({
    "host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te",
    "trailer", "proxy-authorization", "proxy-authenticate", "accept-encoding",
})
MAX_HEADERS = 20


def is_refused_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Cloud metadata, link-local, unspecified or multicast: never an upstream."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in _BLOCKED_NETWORKS if net.version == ip.version)


def _addresses(host: str) -> list:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise ValueError(f"the base URL's host {host!r} does not resolve from this server") from None
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


def _own_endpoints() -> set[tuple[str, int]]:
    web = urlsplit(settings.WEB_URL)
    own = set()
    if web.hostname:
        own.add((web.hostname.lower(), web.port or (443 if web.scheme == "https" else 80)))
    return own


def check_base_url(url: str) -> str:
    """The URL, normalized (no trailing slash), or ValueError saying what is wrong."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("the base URL is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the base URL must start with http:// or https:// and name a host")
    if parts.username or parts.password:
        raise ValueError("the base URL must not carry credentials: put a token in the key or a header")
    if parts.query or parts.fragment:
        raise ValueError("the base URL must not have a query string or fragment")
    host = parts.hostname.lower().rstrip(".")
    port = port or (443 if parts.scheme == "https" else 80)
    if host in _METADATA_NAMES:
        raise ValueError(f"{host} is a cloud metadata service and cannot be an upstream")
    if (host, port) in _own_endpoints():
        raise ValueError("the base URL points at Spanlens itself")
    addresses = _addresses(host)
    if any(is_refused_address(ip) for ip in addresses):
        raise ValueError(f"{host} points at a metadata, link-local or unspecified address, which cannot be an upstream")
    if port == int(settings.PORT) and any(ip.is_loopback for ip in addresses):
        raise ValueError("the base URL points at Spanlens itself")
    return url.rstrip("/")


def check_host(host: str) -> None:
    """ValueError when a host (of any outbound URL: webhooks too) is a metadata service or
    resolves to a refused address."""
    host = host.lower().rstrip(".")
    if host in _METADATA_NAMES:
        raise ValueError(f"{host} is a cloud metadata service")
    if any(is_refused_address(ip) for ip in _addresses(host)):
        raise ValueError(f"{host} points at a metadata, link-local or unspecified address")


def check_headers(headers: dict[str, str]) -> dict[str, str]:
    """Extra upstream headers: valid names, single-line values, none the proxy owns."""
    if len(headers) > MAX_HEADERS:
        raise ValueError(f"at most {MAX_HEADERS} extra headers")
    clean: dict[str, str] = {}
    for name, value in headers.items():
        name = str(name).strip()
        value = str(value).strip()
        if not _HEADER_NAME.match(name):
            raise ValueError(f"header name {name!r} is not a valid HTTP header name")
        if name.lower() in _RESERVED_HEADERS or name.lower().startswith("x-spanlens-"):
            raise ValueError(f"header {name} is set by the proxy and cannot be overridden")
        if any(c in value for c in "\r\n\0"):
            raise ValueError(f"header {name}'s value must be one line")
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(f"header {name}'s value must be plain ASCII/Latin-1 text") from None
        clean[name] = value
    return clean


def parse_header_lines(text: str) -> dict[str, str]:
    """"Name: value" lines, as typed in the provider key form."""
    headers: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"header line {line.strip()!r} must look like Name: value")
        headers[name.strip()] = value.strip()
    return headers
