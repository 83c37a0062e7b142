"""Status transitions: the one guarded, race-safe way a model's `status` changes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone


class StatusTransitions(models.Model):
    """A model whose `status` changes only through `transition`.

    The model declares its own `status` field (with its statuses) and an `updated_at`.
    """

    class Meta:
        abstract = True

    def transition(self, old: str | Iterable[str], new: str, *, where: Q | None = None, **fields: Any) -> bool:
        """Move to `new` if and only if the row is still in `old` (one status or several) and matches `where`.

        Race-safe: the check and the write are one UPDATE, so of two writers (two
        supervisors, a supervisor and a cancel request) only one can win. Returns whether
        this call made the change; if so `updated_at` is set and `self` carries the new values.
        """
        olds = [old] if isinstance(old, str) else list(old)
        values = {"status": new, "updated_at": timezone.now(), **fields}
        # The concrete model declares `status`; the abstract one the plugin sees here has none.
        rows = type(self)._default_manager.filter(where or Q(), pk=self.pk, status__in=olds)  # type: ignore[misc]
        changed = rows.update(**values) == 1
        if changed:
            for name, value in values.items():
                setattr(self, name, value)
        return changed
