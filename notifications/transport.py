"""Sending a delivery: only to http(s) URLs, and only to public addresses unless WEBHOOK_ALLOW_PRIVATE.

A webhook URL is chosen by a project's creator, and the worker that calls it sits inside
the platform's network, beside PostgreSQL, Redis, the model servers and the cloud's
metadata endpoint. Calling any URL would let a project owner make the platform send
requests there (server-side request forgery) and read the answer back in the delivery's
record. So the host is resolved, every address it resolves to must be public, and the
connection is made to the very address that was checked (a name that resolves elsewhere
the second time cannot slip through); redirects are not followed. WEBHOOK_ALLOW_PRIVATE
lifts the address rule for a receiver on the platform's own network (and the tests'
servers on loopback).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from llmplatform.errors import InvalidInput

MAX_EXCERPT = 1000


class UnsafeUrl(InvalidInput):
    """A webhook URL the platform will not call."""


@dataclass(frozen=True)
class Answer:
    status: int
    excerpt: str


def check_scheme(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl(
            format_lazy(_("A webhook URL must be http:// or https:// with a host, not {url!r}."), url=url[:200]),
            field="url",
        )
    if parts.username or parts.password:
        raise UnsafeUrl(_("A webhook URL may not carry a user name or password."), field="url")


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_global and not ip.is_multicast


def resolve(url: str) -> str:
    """The address to connect to for `url`: its host's first address, every one of them public unless allowed."""
    check_scheme(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
    except socket.gaierror as exc:
        raise UnsafeUrl(
            format_lazy(_("The webhook host {host!r} does not resolve: {strerror}."), host=host, strerror=exc.strerror),
            field="url",
        ) from None
    private = [address for address in addresses if not is_public(str(address))]
    if private and not settings.WEBHOOK_ALLOW_PRIVATE:
        raise UnsafeUrl(
            format_lazy(
                _(
                    "The webhook host {host!r} resolves to a private, loopback or reserved address "
                    "({private}); the platform calls public addresses only (WEBHOOK_ALLOW_PRIVATE "
                    "lifts this)."
                ),
                host=host,
                private=private[0],
            ),
            field="url",
        )
    return str(addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int | None, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int | None, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to `url`; raises UnsafeUrl for a URL it may not call, OSError when the receiver is unreachable."""
    address = resolve(url)
    parts = urlsplit(url)
    kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = kind(parts.hostname or "", parts.port, address=address, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = response.read(MAX_EXCERPT).decode("utf-8", errors="replace")
        return Answer(status=response.status, excerpt=excerpt)
    except http.client.HTTPException as exc:
        raise OSError(f"bad HTTP answer: {exc!r}") from exc
    finally:
        connection.close()
