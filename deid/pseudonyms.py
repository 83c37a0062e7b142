"""Format- and validity-preserving pseudonyms, derived from a keyed HMAC.

`pseudonym(key, seed, type, value)` is a pure function: the same value gives the same
pseudonym in every text, request and file processed with the same policy secret and
seed, so a person stays one person across a dialogue or a dataset. Each pseudonym
keeps its entity's shape and validity: a mobile keeps a real prefix, an ID number
keeps its region and birth year and gets a real date and a correct check character,
a card keeps its issuer (first six digits) and length and passes Luhn, an e-mail
keeps `local@domain`, an IP address stays a valid address of the same kind, a number of
another country keeps its country code and area and stays valid for `phonenumbers`. A
Chinese name becomes another Chinese name of the same length (a compound surname stays
compound), an English name other census names; an address keeps its province and city
and its hierarchy, each lower level a fictitious name with the same suffix and numbers
of the same length; an organisation keeps its region and its kind (有限公司, 大学...).
"""

from __future__ import annotations

import calendar
import datetime
import hashlib
import hmac
import ipaddress
import string
from collections.abc import Callable, Sequence
from typing import TypeVar

from deid import names
from deid.recognizers import (
    COUNTRY_CODE,
    IMPORT_YEAR,
    MOBILE_PREFIXES,
    NANP_REGION,
    EntityType,
    id_check_char,
    luhn_check_digit,
    parse_phone,
    validate_landline,
    validate_phone,
)

T = TypeVar("T")
SORTED_MOBILE_PREFIXES = tuple(sorted(MOBILE_PREFIXES))
DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
# Free mail providers: keeping them keeps a realistic mix without naming anybody.
PUBLIC_MAIL_DOMAINS = frozenset(
    (
        "qq.com",
        "163.com",
        "126.com",
        "139.com",
        "sina.com",
        "sina.cn",
        "sohu.com",
        "foxmail.com",
        "aliyun.com",
        "yeah.net",
        "gmail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "icloud.com",
        "proton.me",
        "protonmail.com",
    )
)
# Private IPv4 blocks: (fixed leading octets, octets to draw, range of a partly fixed second octet).
PRIVATE_V4_BLOCKS = (
    ((10,), 3, None),
    ((127,), 3, None),
    ((192, 168), 2, None),
    ((172,), 2, range(16, 32)),
)
# First octets whose every address is globally routable (no private, shared, test or
# special-purpose block starts with them).
PUBLIC_FIRST_OCTETS = tuple(octet for octet in range(1, 224) if octet not in (10, 100, 127, 169, 172, 192, 198, 203))


class KeyedStream:
    """Deterministic random choices drawn from HMAC-SHA256(key, message), extended by
    re-hashing when one digest's worth of entropy is used up."""

    __slots__ = ("_digest", "_pool")

    def __init__(self, key: bytes, message: bytes) -> None:
        self._digest = hmac.digest(key, message, "sha256")
        self._pool = int.from_bytes(self._digest, "big")

    def below(self, n: int) -> int:
        if self._pool < n << 10:
            self._digest = hashlib.sha256(self._digest).digest()
            self._pool = int.from_bytes(self._digest, "big")
        self._pool, value = divmod(self._pool, n)
        return value

    def noise(self, count: int) -> bytes:
        """`count` fresh pseudo-random bytes (an extendable-output hash of the key stream)."""
        self._digest = hashlib.sha256(self._digest).digest()
        return hashlib.shake_256(self._digest).digest(count)

    def choice(self, options: Sequence[T]) -> T:
        return options[self.below(len(options))]

    def digits(self, count: int) -> str:
        return f"{self.below(10**count):0{count}d}"


def refill(template: str, digits: str) -> str:
    """Put `digits` into the digit positions of `template`, keeping its separators."""
    if len(template) == len(digits):  # no separators
        return digits
    chars = iter(digits)
    return "".join(next(chars) if c.isdigit() else c for c in template)


# For each ASCII letter or digit, 256 characters of its own class: a random byte picks one.
_SCRAMBLE_TABLES = {
    **dict.fromkeys(string.ascii_lowercase, (string.ascii_lowercase * 10)[:256]),
    **dict.fromkeys(string.ascii_uppercase, (string.ascii_uppercase * 10)[:256]),
    **dict.fromkeys(string.digits, (string.digits * 26)[:256]),
}


def scramble(value: str, stream: KeyedStream) -> str:
    """Same shape: a letter for a letter (same case), a digit for a digit, the rest kept."""
    tables = _SCRAMBLE_TABLES
    return "".join([tables[c][r] if c in tables else c for c, r in zip(value, stream.noise(len(value)), strict=True)])


def pseudo_phone(value: str, stream: KeyedStream) -> str:
    if not validate_phone(value):
        return pseudo_international(value, stream)
    prefix_match = COUNTRY_CODE.match(value) if value[0] != "1" else None
    country = prefix_match.group() if prefix_match else ""
    number = value[len(country) :]
    return country + refill(number, stream.choice(SORTED_MOBILE_PREFIXES) + stream.digits(8))


# Digits of a number's national part that stay: its area or operator, not the subscriber.
KEPT_NATIONAL_DIGITS = 3
PHONE_ATTEMPTS = 50


def pseudo_international(value: str, stream: KeyedStream) -> str:
    """Keeps `+`, the country code, the first digits of the national number and the
    separators; the other digits are drawn until `phonenumbers` holds the number valid."""
    region = None if value.lstrip("(").startswith("+") else NANP_REGION
    number = parse_phone(value, region)
    digits = "".join(c for c in value if c.isdigit())
    national = str(number.national_number) if number is not None else digits
    kept = len(digits) - len(national) + KEPT_NATIONAL_DIGITS
    candidate = digits
    for _ in range(PHONE_ATTEMPTS):
        candidate = digits[:kept] + stream.digits(len(digits) - kept)
        if candidate != digits and parse_phone(refill(value, candidate), region) is not None:
            break
    return refill(value, candidate)


def pseudo_landline(value: str, stream: KeyedStream) -> str:
    if not validate_landline(value) or value.startswith("+"):
        return pseudo_international(value, stream)
    digits = "".join(c for c in value if c.isdigit())
    area_length = 3 if digits[1] in "12" else 4
    subscriber = str(2 + stream.below(7)) + stream.digits(len(digits) - area_length - 1)
    return refill(value, digits[:area_length] + subscriber)


def pseudo_id_card(value: str, stream: KeyedStream) -> str:
    """Keeps the region (first six digits), the birth year and the sex digit's parity."""
    year = int(value[6:10])
    if year < IMPORT_YEAR - 1:
        month = 1 + stream.below(12)
        days = DAYS_IN_MONTH[month] + (month == 2 and calendar.isleap(year))
    else:  # born this year or last: no birthday after today
        today = datetime.date.today()
        month = 1 + stream.below(today.month if year == today.year else 12)
        days = today.day if (year, month) == (today.year, today.month) else calendar.monthrange(year, month)[1]
    day = 1 + stream.below(days)
    sequence = stream.digits(2) + str(2 * stream.below(5) + int(value[16]) % 2)
    first17 = f"{value[:6]}{year:04d}{month:02d}{day:02d}{sequence}"
    check = id_check_char(first17)
    return first17 + (check.lower() if value[17] == "x" else check)


def pseudo_bank_card(value: str, stream: KeyedStream) -> str:
    digits = "".join(c for c in value if c.isdigit())
    payload = digits[:6] + stream.digits(len(digits) - 7)
    return refill(value, payload + luhn_check_digit(payload))


def pseudo_email(value: str, stream: KeyedStream) -> str:
    local, _, domain = value.rpartition("@")
    if domain.lower() not in PUBLIC_MAIL_DOMAINS:
        *labels, top = domain.split(".")
        domain = ".".join([*(scramble(label, stream) for label in labels), top])
    return f"{scramble(local, stream)}@{domain}"


def pseudo_ip(value: str, stream: KeyedStream) -> str:
    if ":" in value:
        # The first 32 bits say which kind of address it is (and at most which provider).
        network = int(ipaddress.IPv6Address(value)) >> 96 << 96
        return str(ipaddress.IPv6Address(network | (stream.below(1 << 48) << 48) | stream.below(1 << 48)))
    octets = [int(part) for part in value.split(".")]
    for prefix, free_octets, first_free_range in PRIVATE_V4_BLOCKS:
        if octets[: len(prefix)] == list(prefix) and (first_free_range is None or octets[1] in first_free_range):
            head = list(prefix)
            if first_free_range is not None:
                head.append(stream.choice(first_free_range))
            tail = [stream.below(256) for _ in range(free_octets - 1)] + [1 + stream.below(254)]
            return ".".join(map(str, head + tail))
    first = stream.choice(PUBLIC_FIRST_OCTETS)
    return f"{first}.{stream.below(256)}.{stream.below(256)}.{1 + stream.below(254)}"


def pseudo_url(value: str, stream: KeyedStream) -> str:
    """Keeps the scheme, `www.`, the top-level domain and every separator."""
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "", value
    host, slash, path = rest.partition("/")
    labels = host.split(".")
    kept_head = 1 if labels[0].lower() == "www" else 0
    host = ".".join(
        label if index < kept_head or index == len(labels) - 1 else scramble(label, stream)
        for index, label in enumerate(labels)
    )
    return f"{scheme}{sep}{host}{slash}{scramble(path, stream)}"


def pseudo_passport(value: str, stream: KeyedStream) -> str:
    letters = len(value) - len(value.lstrip(string.ascii_uppercase))
    return value[:letters] + stream.digits(len(value) - letters)


def pseudo_plate(value: str, stream: KeyedStream) -> str:
    """Keeps the province and city letter, and a new-energy plate's D/F marker."""
    out = list(value[:2])
    tail = value[2:]
    new_energy = len([c for c in tail if c.isalnum()]) == 6
    for index, c in enumerate(tail):
        if new_energy and c in "DF" and (index in (0, len(tail) - 1) or tail[index - 1] in "·• "):
            out.append(c)
        elif c.isdigit():
            out.append(str(stream.below(10)))
        elif c in PLATE_LETTERS:
            out.append(stream.choice(PLATE_LETTERS))
        else:
            out.append(c)
    return "".join(out)


# Characters of fictitious place and organisation names.
PLACE_NAME_CHARS = "安平和兴华东西南北新阳山河林泉石桥溪湖光明丰盛福康宁泰永昌隆青云松柏梅兰竹金玉长春秋"
BRAND_CHARS = "恒达信瑞丰泰嘉禾鼎盛宏远优创博源智联汇通佳华海天星辰启航卓越精诚宇晨"
EN_GIVEN_SORTED = tuple(sorted(names.EN_GIVEN - names.EN_WORD_NAMES))
EN_SURNAMES_SORTED = tuple(sorted(names.lexicon("en_surnames")))
PINYIN_SORTED = tuple(sorted(names.PINYIN_SURNAMES))
ZH_SINGLE_SURNAMES = tuple(s for s in names.lexicon("zh_surnames") if len(s) == 1)
ZH_COMPOUND_SURNAMES = tuple(s for s in names.lexicon("zh_surnames") if len(s) == 2)
ZH_GIVEN = names.ZH_GIVEN_CHARS
CITIES = names.lexicon("zh_cities")


def pseudo_person(value: str, stream: KeyedStream) -> str:
    if value.isascii():
        return pseudo_english_name(value, stream)
    compound = len(value) > 2 and value[:2] in ZH_COMPOUND_SURNAMES
    surname = stream.choice(ZH_COMPOUND_SURNAMES) if compound else stream.choice(ZH_SINGLE_SURNAMES)
    return surname + "".join(stream.choice(ZH_GIVEN) for _ in range(len(value) - len(surname)))


def pseudo_english_name(value: str, stream: KeyedStream) -> str:
    """Each word of the name another of its kind: a pinyin surname stays pinyin, an initial an initial."""
    words = value.split(" ")
    out = []
    for index, word in enumerate(words):
        if word.endswith("."):
            out.append(stream.choice(string.ascii_uppercase) + ".")
        elif word in names.PINYIN_SURNAMES and index == 0 and len(words) > 1:
            out.append(stream.choice(PINYIN_SORTED))
        elif index == len(words) - 1 and len(words) > 1:
            out.append(stream.choice(PINYIN_SORTED if words[0] in names.PINYIN_SURNAMES else EN_SURNAMES_SORTED))
        else:
            out.append(stream.choice(EN_GIVEN_SORTED))
    return " ".join(out)


def fictitious(body: str, stream: KeyedStream, pool: str) -> str:
    """As many characters as `body` has: Chinese ones from `pool`, digits for digits, the rest kept."""
    out = []
    for c in body:
        if c.isdigit() and c.isascii():
            out.append(str(stream.below(10)))
        elif names.IS_NAME_CHAR.match(c):
            out.append(stream.choice(pool))
        else:
            out.append(c)
    if out and out[0] == "0" and body[0] != "0":
        out[0] = str(1 + stream.below(9))
    return "".join(out)


def pseudo_address(value: str, stream: KeyedStream) -> str:
    """Keeps the province and city of the lexicon; every lower level is fictitious."""
    region = names.ADDRESS_REGION.match(value)
    kept = region.end() if region else 0
    out = [value[:kept]]
    position = kept
    for part in names.ADDRESS_PART.finditer(value, kept):
        suffix_start = next(part.start(group) for group in part.groupdict() if part.group(group) is not None)
        out += [
            value[position : part.start()],
            fictitious(value[part.start() : suffix_start], stream, PLACE_NAME_CHARS),
        ]
        out.append(value[suffix_start : part.end()])
        position = part.end()
    return "".join(out) + value[position:]


def pseudo_organization(value: str, stream: KeyedStream) -> str:
    """Keeps a leading province or city and the suffix that says what kind of organisation it is."""
    region = names.ADDRESS_REGION.match(value)
    kept = region.end() if region else 0
    suffix = names.ORGANIZATION_SUFFIX_AT_END.search(value, kept)
    end = suffix.start() if suffix else len(value)
    if end == kept:  # a region and a suffix only (北京大学): another city's
        return stream.choice(CITIES) + value[end:]
    return value[:kept] + fictitious(value[kept:end], stream, BRAND_CHARS) + value[end:]


def pseudo_long_number(value: str, stream: KeyedStream) -> str:
    first = value[0] if value[0] == "0" else str(1 + stream.below(9))
    return first + stream.digits(len(value) - 1)


GENERATORS: dict[str, Callable[[str, KeyedStream], str]] = {
    EntityType.PHONE_NUMBER: pseudo_phone,
    EntityType.LANDLINE_NUMBER: pseudo_landline,
    EntityType.ID_CARD: pseudo_id_card,
    EntityType.BANK_CARD: pseudo_bank_card,
    EntityType.EMAIL_ADDRESS: pseudo_email,
    EntityType.IP_ADDRESS: pseudo_ip,
    EntityType.URL: pseudo_url,
    EntityType.PASSPORT: pseudo_passport,
    EntityType.LICENSE_PLATE: pseudo_plate,
    EntityType.PERSON: pseudo_person,
    EntityType.ADDRESS: pseudo_address,
    EntityType.ORGANIZATION: pseudo_organization,
    EntityType.LONG_NUMBER: pseudo_long_number,
}


def hmac_message(seed: int, entity_type: str, value: str) -> bytes:
    return f"{seed}\x1f{entity_type}\x1f{value}".encode()


def pseudonym(key: bytes, seed: int, entity_type: str, value: str) -> str:
    return GENERATORS[entity_type](value, KeyedStream(key, hmac_message(seed, entity_type, value)))
