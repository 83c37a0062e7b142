"""`python -m tests.oidc_provider PORT REDIRECT_URI CLIENT_ID CLIENT_SECRET USERS_JSON`: migrate the
provider's database, register the platform as a confidential client and the users
(`{"carol": {"password": ..., "email": ..., "groups": [...]}}`), then serve on 127.0.0.1:PORT
until stopped."""

from __future__ import annotations

import json
import os
import sys

import django
from django.core.management import call_command


def main(port: str, redirect_uri: str, client_id: str, client_secret: str, users: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.oidc_provider.settings")
    django.setup()
    from django.contrib.auth.models import Group, User
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0)
    for username, person in json.loads(users).items():
        user = User.objects.create_user(username, person["email"], person["password"])
        user.groups.set([Group.objects.get_or_create(name=name)[0] for name in person["groups"]])
    Application.objects.create(
        name="llmplatform",
        client_id=client_id,
        client_secret=client_secret,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=redirect_uri,
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
    )
    call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, skip_checks=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
