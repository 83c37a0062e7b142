"""django-q2 tasks of the notifications app."""

from __future__ import annotations

from notifications import services
from notifications.models import Delivery


def deliver(delivery_id: str) -> str:
    delivery = Delivery.objects.select_related("subscription").filter(pk=delivery_id).first()
    if delivery is None:
        return f"Delivery {delivery_id} no longer exists."
    delivery = services.deliver(delivery)
    return f"Delivery {delivery_id}: {delivery.status} after {delivery.attempts} attempt(s)."
