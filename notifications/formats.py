"""What a delivery sends: the body each receiver's format documents, and its signatures.

Every delivery carries the platform's own headers, whatever its format:

    X-LLMP-Event: run.failed
    X-LLMP-Delivery: <the delivery's id>
    X-LLMP-Timestamp: <Unix seconds when this attempt was signed>
    X-LLMP-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

A receiver recomputes the signature over the timestamp and the raw body, compares it in
constant time, and refuses a timestamp older than a few minutes, so a captured delivery
cannot be replayed later. The chat robots get their own message bodies; Feishu/Lark and
DingTalk robots set to "signature" verification check their own signature, made with
the subscription's secret as the robot documents it (Feishu: `timestamp` and `sign` in
the body; DingTalk: `timestamp` and `sign` in the URL).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from notifications.models import WebhookFormat


@dataclass(frozen=True)
class Request:
    url: str
    body: bytes
    headers: dict[str, str]


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def summary(payload: dict[str, Any]) -> str:
    """The event in one line for people reading a chat."""
    return f"[{payload.get('project', '')}] {payload.get('event', '')}: {payload.get('summary', '')}"


def _feishu_sign(secret: str, timestamp: int) -> str:
    # Feishu's robot: the key is "<timestamp>\n<secret>", the message empty.
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def _dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    # DingTalk's robot: HMAC-SHA256 keyed by the secret over "<timestamp ms>\n<secret>", URL-encoded base64.
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def build(*, fmt: str, url: str, secret: str, payload: dict[str, Any], delivery_id: str, now: float) -> Request:
    timestamp = int(now)
    text = summary(payload)
    message: dict[str, Any]
    if fmt == WebhookFormat.SLACK:
        message = {"text": text}
    elif fmt == WebhookFormat.WECOM:
        message = {"msgtype": "text", "text": {"content": text}}
    elif fmt == WebhookFormat.FEISHU:
        message = {"msg_type": "text", "content": {"text": text}}
        if secret:
            message |= {"timestamp": str(timestamp), "sign": _feishu_sign(secret, timestamp)}
    elif fmt == WebhookFormat.DINGTALK:
        message = {"msgtype": "text", "text": {"content": text}}
        if secret:
            milliseconds = int(now * 1000)
            separator = "&" if "?" in url else "?"
            url = f"{url}{separator}timestamp={milliseconds}&sign={_dingtalk_sign(secret, milliseconds)}"
    else:
        message = payload
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "llmplatform-webhooks/1",
        "X-LLMP-Event": str(payload.get("event", "")),
        "X-LLMP-Delivery": delivery_id,
        "X-LLMP-Timestamp": str(timestamp),
        "X-LLMP-Signature": signature(secret, timestamp, body),
    }
    return Request(url=url, body=body, headers=headers)
