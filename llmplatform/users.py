"""Who acts, as the type checker should see it.

The platform uses Django's own `User` model (no AUTH_USER_MODEL of its own), so the
user foreign keys, `request.user` and the services all speak of `User`.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User

# What `request.user` is: a signed-in user or the anonymous one.
Visitor = User | AnonymousUser
# Who a service acts for; None when the platform itself acts (a task, a command).
Actor = User | AnonymousUser | None

# The group of staff who run the platform (made by a migration): what the admin lets them see and do.
OPERATORS_GROUP = "operators"
