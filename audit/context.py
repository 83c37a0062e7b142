"""The request an audit event comes from, without passing it through every service.

The middleware stores who is calling, through which door (api, console, admin)
and from which address; `audit.services.record_event` reads it.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    via: str
    client_address: str | None


current_request: ContextVar[RequestContext | None] = ContextVar("audit_request", default=None)
