"""Who may read `/metrics`: a scraper that shows METRICS_TOKEN as a bearer token, or one whose
address is in METRICS_ALLOWED_NETWORKS. With neither set nobody may.

Metrics name projects, runs and deployments, so they are not public; a Prometheus server
has no Django account, hence a token of its own (`bearer_token_file` in its scrape config)
or a network rule instead of the API's per-user tokens.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from llmplatform.authentication import client_ip

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def allowed_networks(items: list[str]) -> list[Network]:
    """METRICS_ALLOWED_NETWORKS' items (`10.0.0.0/8`, `127.0.0.1`) as networks."""
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS item {item!r} is not an address or network") from exc
    return networks


def bearer_token(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def token_matches(request: HttpRequest) -> bool:
    expected = settings.METRICS_TOKEN
    given = bearer_token(request)
    return bool(expected and given) and hmac.compare_digest(given.encode(), expected.encode())


def address_allowed(request: HttpRequest) -> bool:
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(address in network for network in allowed_networks(settings.METRICS_ALLOWED_NETWORKS))


def may_scrape(request: HttpRequest) -> bool:
    return token_matches(request) or address_allowed(request)
