"""The zh_Hans and en catalogs are complete, and the committed .mo files match their .po files
(CI machines may lack gettext, so the compiled catalogs are committed, not built)."""

from __future__ import annotations

import gettext
from pathlib import Path

import pytest
from django.conf import settings

from llmplatform.sentences import po_entries

LOCALES = ("zh_Hans", "en")


def catalog(locale: str) -> Path:
    return Path(settings.LOCALE_PATHS[0]) / locale / "LC_MESSAGES"


@pytest.mark.parametrize("locale", LOCALES)
def test_it_translates_every_message(locale):
    untranslated = [msgid for msgid, msgstr in po_entries(catalog(locale) / "django.po").items() if not msgstr]
    assert untranslated == []


@pytest.mark.parametrize("locale", LOCALES)
def test_it_ships_a_compiled_catalog_matching_the_po_file(locale):
    entries = po_entries(catalog(locale) / "django.po")
    with open(catalog(locale) / "django.mo", "rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    for msgid, msgstr in entries.items():
        assert compiled.gettext(msgid) == msgstr, msgid


def test_it_keeps_the_same_messages_in_every_catalog():
    """llmplatform.sentences reads its templates from the en catalog: it must hold every message."""
    assert set(po_entries(catalog("en") / "django.po")) == set(po_entries(catalog("zh_Hans") / "django.po"))
