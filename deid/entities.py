"""What the recognisers find: entity types, findings, and the locales that choose recognisers."""

from __future__ import annotations

from typing import NamedTuple


class EntityType:
    PHONE_NUMBER = "PHONE_NUMBER"  # mainland mobile, or any other country's number
    LANDLINE_NUMBER = "LANDLINE_NUMBER"  # mainland fixed line
    ID_CARD = "ID_CARD"  # 18-digit resident identity card number
    BANK_CARD = "BANK_CARD"
    EMAIL_ADDRESS = "EMAIL_ADDRESS"
    IP_ADDRESS = "IP_ADDRESS"
    URL = "URL"
    PASSPORT = "PASSPORT"
    LICENSE_PLATE = "LICENSE_PLATE"
    PERSON = "PERSON"  # a person's name (Chinese or English)
    ADDRESS = "ADDRESS"  # a Chinese postal address, province down to the room
    ORGANIZATION = "ORGANIZATION"  # a Chinese organisation's name
    LONG_NUMBER = "LONG_NUMBER"  # fallback: any run of 8+ digits, off unless a policy enables it


ALL_ENTITY_TYPES: tuple[str, ...] = (
    EntityType.PHONE_NUMBER,
    EntityType.LANDLINE_NUMBER,
    EntityType.ID_CARD,
    EntityType.BANK_CARD,
    EntityType.EMAIL_ADDRESS,
    EntityType.IP_ADDRESS,
    EntityType.URL,
    EntityType.PASSPORT,
    EntityType.LICENSE_PLATE,
    EntityType.PERSON,
    EntityType.ADDRESS,
    EntityType.ORGANIZATION,
    EntityType.LONG_NUMBER,
)


# Which recognisers a locale runs. The structured types are found whatever the language
# around them; the locale chooses the recognisers of names, addresses and organisations.
class Locale:
    ZH_CN = "zh-CN"
    EN = "en"
    BOTH = "both"


LOCALES = (Locale.ZH_CN, Locale.EN, Locale.BOTH)
DEFAULT_LOCALE = Locale.BOTH


def parse_locale(value: str) -> str:
    """`zh-CN`, `en` or `both`; a BCP 47 tag counts as its language (`zh-Hans`, `en-US`).
    Raises ValueError naming the accepted values."""
    if value in LOCALES:
        return value
    language = value.split("-")[0].split("_")[0].lower()
    if language in ("zh", "en"):
        return Locale.ZH_CN if language == "zh" else Locale.EN
    if value.lower() == Locale.BOTH:
        return Locale.BOTH
    raise ValueError(f"Unknown locale {value!r}; use one of: {', '.join(LOCALES)} (or a zh-* or en-* tag).")


class Finding(NamedTuple):
    type: str
    start: int
    end: int
    score: float
