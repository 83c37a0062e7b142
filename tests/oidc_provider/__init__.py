"""A small OpenID Connect provider for the single sign-on tests: django-oauth-toolkit in its OIDC
mode, a login form and users with groups, its own SQLite file, run as a process of its own on
loopback (`python -m tests.oidc_provider`), apart from the platform under test."""
