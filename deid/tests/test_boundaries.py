"""Where every recogniser's findings may start and end, against every Unicode category.

For each general category (and ideographs apart from other letters), a character of it
is put right before and right after an entity: letters of spaced scripts, digits and
other numbers, combining marks and connector punctuation continue a token, so the entity
is not found with its own span; an ideograph, a space, a control, any other punctuation
(opening, closing, initial and final quotes, dashes, the rest) or a symbol ends it, so it
is found exactly. The characters come from `unicodedata`, outside ASCII (an entity's own
grammar has ASCII punctuation in it: the dots of an address, the hyphens of a number).
"""

from __future__ import annotations

import functools
import sys
import unicodedata
from dataclasses import dataclass

import pytest

from deid.recognizers import ALL_ENTITY_TYPES, EntityType, find_entities, id_check_char, luhn_check_digit

IDEOGRAPH = "Ideo"


@functools.cache
def representatives() -> dict[str, str]:
    """One non-ASCII character of every general category, and an ideograph."""
    found: dict[str, str] = {}
    for code in range(0x80, sys.maxunicode + 1):
        char = chr(code)
        category = unicodedata.category(char)
        if category == "Lo" and unicodedata.name(char, "").startswith("CJK UNIFIED IDEOGRAPH"):
            category = IDEOGRAPH
        found.setdefault(category, char)
    return found


def continues_a_token(category: str) -> bool:
    return category[0] in "LNM" or category == "Pc"


@dataclass(frozen=True)
class Case:
    name: str
    entity_type: str
    value: str
    before: str = ""  # context the recogniser needs, outside the span
    after: str = ""
    # Which categories continue the entity on each side (default: continues_a_token).
    joins_before: object = continues_a_token
    joins_after: object = continues_a_token


def nothing(category: str) -> bool:
    return False


def numbers_only(category: str) -> bool:
    return category[0] in "NM" or category == "Pc"


CASES = (
    Case("mobile", EntityType.PHONE_NUMBER, "13812345678"),
    Case("mobile with country code", EntityType.PHONE_NUMBER, "+86 138 1234 5678"),
    Case("international", EntityType.PHONE_NUMBER, "+44 20 7946 0958"),
    Case("north american", EntityType.PHONE_NUMBER, "303-555-0100"),
    Case("north american, bracketed", EntityType.PHONE_NUMBER, "(212) 555-0166", joins_before=nothing),
    Case("landline", EntityType.LANDLINE_NUMBER, "010-62345678"),
    Case("id card", EntityType.ID_CARD, "11010519491231002" + id_check_char("11010519491231002")),
    Case("bank card", EntityType.BANK_CARD, "622202123456789" + luhn_check_digit("622202123456789")),
    Case("email", EntityType.EMAIL_ADDRESS, "alice.wang@example.com"),
    Case("url", EntityType.URL, "https://example.com/a"),
    Case("ipv4", EntityType.IP_ADDRESS, "10.2.3.4", joins_before=numbers_only, joins_after=numbers_only),
    Case("ipv6", EntityType.IP_ADDRESS, "2001:db8::8a2e:370:7334"),
    Case("passport", EntityType.PASSPORT, "E12345678"),
    Case("plate", EntityType.LICENSE_PLATE, "京A12345", joins_before=nothing),
    Case("long number", EntityType.LONG_NUMBER, "20231123000123456"),
    Case("english name", EntityType.PERSON, "Alice Johnson"),
    Case(
        "chinese name",
        EntityType.PERSON,
        "王小明",
        before="联系人",
        after="先生",
        joins_before=nothing,
        joins_after=nothing,
    ),
    Case("address", EntityType.ADDRESS, "北京市海淀区中关村大街1号", joins_before=nothing, joins_after=nothing),
    # An organisation starts at the province or city in its name, whatever comes before.
    Case("organisation", EntityType.ORGANIZATION, "北京华信科技有限公司", joins_before=nothing, joins_after=nothing),
)


def exact_finding(case: Case, text: str, start: int) -> bool:
    spans = [(f.type, f.start, f.end) for f in find_entities(text, ALL_ENTITY_TYPES)]
    return (case.entity_type, start, start + len(case.value)) in spans


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
@pytest.mark.parametrize("side", ["before", "after"])
def test_it_ends_every_entity_where_the_unicode_category_says(case, side):
    assert exact_finding(case, case.before + case.value + case.after, len(case.before))
    wrong = []
    for category, char in sorted(representatives().items()):
        if side == "before":
            text, start = case.before + char + case.value + case.after, len(case.before) + 1
            joins = case.joins_before(category)
        else:
            text, start = case.before + case.value + char + case.after, len(case.before)
            joins = case.joins_after(category)
        if exact_finding(case, text, start) == joins:
            wrong.append(f"{category} U+{ord(char):04X} {'should join' if joins else 'should end it'}")
    assert not wrong, wrong


def test_it_covers_every_general_category():
    categories = {unicodedata.category(chr(code)) for code in range(sys.maxunicode + 1)}
    assert categories | {IDEOGRAPH} == set(representatives())
