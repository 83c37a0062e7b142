"""Finding personal data in Chinese and English text.

One compiled regular expression finds every candidate whose first character is a
digit, `+`, `(`, a passport letter or a licence-plate province; its first element is a
character class, so Python's regex engine skips ordinary text in C without entering
the matcher. E-mail addresses, URLs and IPv6 addresses get their own scan, run only on
texts that contain `@`, `://`/`www.` or two colons. Candidates are then validated
(checksums, real dates, real prefixes, `ipaddress`, Google's `phonenumbers` for
international numbers) and scored; overlapping findings resolve to one: the longest,
then the highest score. Person names, addresses and organisations come from
`deid.names`, chosen by locale.

Where a finding may start and end is decided by Unicode category (`deid.charclasses`),
never `\\b` or a list of characters: a letter of a spaced script, a digit, a combining
mark or connector punctuation next to a number makes it part of a longer token; an
ideograph, a space, any other punctuation or a symbol ends it. In Python a Chinese
character is a word character, so `\\b1[3-9]\\d{9}\\b` misses `手机号13812345678`.
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import phonenumbers

from deid.charclasses import JOINS, JOINS_NUMBERS
from deid.entities import ALL_ENTITY_TYPES, DEFAULT_LOCALE, EntityType, Finding
from deid.names import find_names

# --- validators -------------------------------------------------------------------

# Mainland mobile prefixes in service (MIIT number plan), first three digits.
MOBILE_PREFIXES = frozenset(
    [f"13{d}" for d in range(10)]
    + ["145", "146", "147", "148", "149"]
    + [f"15{d}" for d in (0, 1, 2, 3, 5, 6, 7, 8, 9)]
    + ["162", "165", "166", "167"]
    + [f"17{d}" for d in range(9)]
    + [f"18{d}" for d in range(10)]
    + [f"19{d}" for d in range(10)]
)

# Province-level codes that open a resident ID number (GB/T 2260).
ID_PROVINCES = frozenset(
    f"{code}"
    for code in (
        11,
        12,
        13,
        14,
        15,
        21,
        22,
        23,
        31,
        32,
        33,
        34,
        35,
        36,
        37,
        41,
        42,
        43,
        44,
        45,
        46,
        50,
        51,
        52,
        53,
        54,
        61,
        62,
        63,
        64,
        65,
        71,
        81,
        82,
    )
)
IMPORT_YEAR = datetime.date.today().year
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"


def id_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a resident ID number's first 17 digits."""
    return ID_CHECK_CHARS[sum(map(operator.mul, map(int, first17), ID_WEIGHTS)) % 11]


def is_valid_id_card(value: str) -> bool:
    if len(value) != 18 or value[:2] not in ID_PROVINCES:
        return False
    try:
        birth = datetime.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    # Asking for today's date only where it can matter keeps the common case fast.
    if birth.year < 1900 or (birth.year >= IMPORT_YEAR - 1 and birth > datetime.date.today()):
        return False
    return id_check_char(value[:17]) == value[17].upper()


LUHN_DOUBLED = {str(d): (2 * d if d < 5 else 2 * d - 9) for d in range(10)}


def luhn_check_digit(payload: str) -> str:
    """The digit that makes `payload + digit` pass the Luhn check."""
    doubled = payload[::-2]  # from the rightmost digit, every other one is doubled
    total = sum(LUHN_DOUBLED[c] for c in doubled) + sum(map(int, payload[-2::-2]))
    return str(-total % 10)


def passes_luhn(digits: str) -> bool:
    return luhn_check_digit(digits[:-1]) == digits[-1]


def is_card_bin(digits: str) -> bool:
    """Issuer ranges (and their lengths) of cards seen in China: UnionPay 62, JCB 35,
    Discover 60/64/65 (16-19 digits), Visa 4 (16 or 19), Mastercard 51-55 and
    2221-2720 (16)."""
    head2 = digits[:2]
    if head2 in {"62", "35", "60", "64", "65"}:
        return True
    if digits[0] == "4":
        return len(digits) in (16, 19)
    return len(digits) == 16 and (head2 in {"51", "52", "53", "54", "55"} or 2221 <= int(digits[:4]) <= 2720)


NON_DIGITS = re.compile(r"\D")


def only_digits(value: str) -> str:
    return NON_DIGITS.sub("", value)


def consistent_groups(value: str) -> bool:
    """Separators, if any, are all the same character (`1234 5678-9012` is two things)."""
    return not (" " in value and "-" in value)


COUNTRY_CODE = re.compile(r"^\(?\+?86\)?[ -]?")


def validate_phone(value: str) -> bool:
    number = value if value[0] == "1" else COUNTRY_CODE.sub("", value)
    return number[:3] in MOBILE_PREFIXES and consistent_groups(number)


def validate_landline(value: str) -> bool:
    digits = only_digits(value)
    area_length = 3 if digits[1] in "12" else 4
    return 10 <= len(digits) <= 12 and len(digits) - area_length in (7, 8)


def validate_bank_card(value: str) -> bool:
    digits = only_digits(value)
    return 16 <= len(digits) <= 19 and consistent_groups(value) and is_card_bin(digits) and passes_luhn(digits)


def validate_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def validate_plate(value: str) -> bool:
    return sum(c.isdigit() for c in value) >= 2


def validate_email(value: str) -> bool:
    local, _, domain = value.rpartition("@")
    return not (local.startswith(".") or local.endswith(".") or ".." in value or domain.startswith("-"))


def always(value: str) -> bool:
    return True


# Where a number without a country code is read as a North American one.
NANP_REGION = "US"
PHONE_GROUP_SEPARATORS = re.compile(r"[ .\-]+")


def parse_phone(value: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def phone_type(number: phonenumbers.PhoneNumber) -> str:
    """A mainland fixed line is a landline, like the mainland shapes; every other number is a phone number."""
    if number.country_code == 86 and phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.FIXED_LINE:
        return EntityType.LANDLINE_NUMBER
    return EntityType.PHONE_NUMBER


def international_phone(value: str) -> tuple[int, str] | None:
    """The longest leading run of digit groups of `+...` that `phonenumbers` holds for a
    valid number, as (its length, its type): a year or a count written after a number
    is not part of it."""
    ends = [match.start() for match in PHONE_GROUP_SEPARATORS.finditer(value)] + [len(value)]
    for end in reversed(ends):
        number = parse_phone(value[:end], None)
        if number is not None:
            return end, phone_type(number)
    return None


def north_american_phone(value: str) -> tuple[int, str] | None:
    number = parse_phone(value, NANP_REGION)
    return (len(value), EntityType.PHONE_NUMBER) if number is not None else None


# --- patterns ---------------------------------------------------------------------

PROVINCE_CHARS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_LETTER = "[A-HJ-NP-Z]"  # plates never use I or O
PLATE_ALNUM = "[A-HJ-NP-Z0-9]"


@dataclass(frozen=True)
class Recognizer:
    """One entity shape: `first` (a one-character class) followed by `rest`.

    Splitting off the first character lets the combined scan start with one character
    class (the union of all `first`s), which the regex engine skips to in C.
    """

    name: str  # unique branch name (a type may have several shapes)
    type: str
    first: str
    rest: str
    validate: Callable[[str], bool]
    score: float
    # The characters that may not touch the shape, before and after (None: any may
    # precede it, as before a plate, which opens with a Chinese character).
    joins_before: str | None = JOINS
    joins_after: str = JOINS
    # For shapes `phonenumbers` reads: how much of the match is a valid number, and its type.
    measure: Callable[[str], tuple[int, str] | None] | None = None

    @property
    def branch(self) -> str:
        """This shape inside the combined scan, whose union class consumed `first` already."""
        before = f"(?<!{self.joins_before}.)" if self.joins_before else ""
        return f"(?<={self.first}){before}(?:{self.rest}){self.after}"

    @property
    def pattern(self) -> str:
        """This shape on its own, to try it where another shape failed validation."""
        before = f"(?<!{self.joins_before})" if self.joins_before else ""
        return f"{before}{self.first}(?:{self.rest}){self.after}"

    @property
    def after(self) -> str:
        return f"(?!{self.joins_after})"

    def check(self, value: str) -> tuple[int, str] | None:
        """(length, type) of the entity at the start of the match `value`, or None."""
        if self.measure is not None:
            return self.measure(value)
        return (len(value), self.type) if self.validate(value) else None


DATE_DIGITS = r"(?:18|19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
# Groups of digits after `+` and a country code; a group may sit in brackets, `(0)` too.
INTERNATIONAL_REST = r"\d{1,3}(?:[ .\-]?(?:\(\d{1,5}\)|\d{1,5})){2,7}"

# Order matters where two shapes can start at the same character: the first one that
# validates wins, so longer shapes come before shorter ones.
NUMERIC_RECOGNIZERS: tuple[Recognizer, ...] = (
    Recognizer("id_card", EntityType.ID_CARD, "[1-9]", r"\d{5}" + DATE_DIGITS + r"\d{3}[0-9Xx]", is_valid_id_card, 1.0),
    Recognizer(
        "bank_card",
        EntityType.BANK_CARD,
        "[2-6]",
        r"\d{15,18}|\d{3}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?",
        validate_bank_card,
        0.9,
    ),
    Recognizer("mobile", EntityType.PHONE_NUMBER, "1", r"[3-9]\d(?:[ -]?\d{4}){2}", validate_phone, 0.85),
    Recognizer("mobile_cc", EntityType.PHONE_NUMBER, r"\+", r"86[ -]?1[3-9]\d(?:[ -]?\d{4}){2}", validate_phone, 0.9),
    Recognizer(
        "mobile_cc_paren", EntityType.PHONE_NUMBER, r"\(", r"\+?86\)[ -]?1[3-9]\d(?:[ -]?\d{4}){2}", validate_phone, 0.9
    ),
    Recognizer("mobile_86", EntityType.PHONE_NUMBER, "8", r"6[ -]1[3-9]\d(?:[ -]?\d{4}){2}", validate_phone, 0.85),
    Recognizer(
        "international", EntityType.PHONE_NUMBER, r"\+", INTERNATIONAL_REST, always, 0.85, measure=international_phone
    ),
    Recognizer(
        "landline",
        EntityType.LANDLINE_NUMBER,
        "0",
        r"(?:10|2\d|[3-9]\d\d)[ -]?[2-8]\d{6,7}",
        validate_landline,
        0.6,
    ),
    Recognizer(
        "landline_paren",
        EntityType.LANDLINE_NUMBER,
        r"\(",
        r"0(?:10|2\d|[3-9]\d\d)\)[ -]?[2-8]\d{6,7}",
        validate_landline,
        0.6,
    ),
    # North American numbers without a country code: only the written shapes, (212) 555-0166 and 303-555-0100.
    Recognizer(
        "nanp_paren",
        EntityType.PHONE_NUMBER,
        r"\(",
        r"[2-9]\d\d\) ?[2-9]\d\d[-. ]\d{4}",
        always,
        0.7,
        joins_before=None,
        measure=north_american_phone,
    ),
    Recognizer(
        "ipv4",
        EntityType.IP_ADDRESS,
        r"\d",
        r"\d{0,2}(?:\.\d{1,3}){3}(?!\.\d)",
        validate_ip,
        0.9,
        # A dotted quad delimits itself: letters may touch it (`IP10.2.3.4`), digits may not.
        joins_before=JOINS_NUMBERS,
        joins_after=JOINS_NUMBERS,
    ),
    Recognizer(
        "nanp",
        EntityType.PHONE_NUMBER,
        "[2-9]",
        r"\d\d(?:-[2-9]\d\d-|\.[2-9]\d\d\.)\d{4}",
        always,
        0.7,
        measure=north_american_phone,
    ),
    Recognizer("passport", EntityType.PASSPORT, "[EG]", r"\d{8}|(?<=E)" + PLATE_LETTER + r"\d{7}", always, 0.6),
    Recognizer(
        "plate",
        EntityType.LICENSE_PLATE,
        f"[{PROVINCE_CHARS}]",
        PLATE_LETTER + r"[·• ]?(?:[DF]" + PLATE_ALNUM + r"\d{4}|\d{5}[DF]|" + PLATE_ALNUM + "{4}[A-HJ-NP-Z0-9挂学警]"
        r")",
        validate_plate,
        0.7,
        joins_before=None,
    ),
    Recognizer("long_number", EntityType.LONG_NUMBER, r"\d", r"\d{7,}", always, 0.5),
)

# What an e-mail's local part and a host name are made of: these touching one make it longer.
EMAIL = re.compile(
    rf"(?<!{JOINS})(?<![._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{{0,63}}+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*"
    rf"\.[A-Za-z]{{2,24}}(?!{JOINS})(?!-)"
)
# A URL is made of the characters RFC 3986 allows outside quotes and brackets, and of the
# letters, digits and marks of internationalised names; an ideograph, a space, a quote,
# a bracket or any other punctuation or symbol ends it.
URL = re.compile(rf"(?<!{JOINS})(?P<prefix>(?:https?|ftp)://|www\.)" + rf"(?:[A-Za-z0-9\-._~:/?#@!$&*+,;=%]|{JOINS})+")
URL_TRAILING_PUNCTUATION = ".,;:!?"
IPV6 = re.compile(
    rf"(?<!{JOINS})(?<![:.])(?:[0-9A-Fa-f]{{0,4}}:){{2,7}}(?:[0-9A-Fa-f]{{1,4}}|:|(?:\d{{1,3}}\.){{3}}\d{{1,3}})"
    rf"(?!{JOINS})(?!:)"
)

COMBINED = re.compile(
    "["
    + "".join(sorted({r.first.strip("[]") for r in NUMERIC_RECOGNIZERS}))
    + "](?:"
    + "|".join(f"{r.branch}(?P<{r.name}>)" for r in NUMERIC_RECOGNIZERS)
    + ")"
)
BY_GROUP: dict[int, Recognizer] = {COMBINED.groupindex[r.name]: r for r in NUMERIC_RECOGNIZERS}
SINGLE: dict[str, re.Pattern[str]] = {r.name: re.compile(r.pattern) for r in NUMERIC_RECOGNIZERS}


# --- context ----------------------------------------------------------------------

CONTEXT_WINDOW = 16  # characters before a finding that are searched for context words
CONTEXT_BOOST = 0.3
CONTEXT_WORDS: dict[str, tuple[str, ...]] = {
    EntityType.PHONE_NUMBER: (
        "手机",
        "电话",
        "联系",
        "致电",
        "来电",
        "phone",
        "mobile",
        "tel",
        "call",
        "whatsapp",
        "wechat",
        "微信",
    ),
    EntityType.LANDLINE_NUMBER: ("电话", "座机", "固话", "联系", "传真", "phone", "tel", "fax", "office"),
    EntityType.ID_CARD: ("身份证", "证件", "公民身份", "id card", "id no", "identity"),
    EntityType.BANK_CARD: ("卡号", "银行卡", "账号", "账户", "信用卡", "card", "account", "iban"),
    EntityType.EMAIL_ADDRESS: ("邮箱", "邮件", "电邮", "email", "e-mail", "mail"),
    EntityType.IP_ADDRESS: ("ip", "地址", "主机", "服务器", "host", "server", "address"),
    EntityType.URL: ("网址", "链接", "网站", "url", "link", "website", "http"),
    EntityType.PASSPORT: ("护照", "passport", "证件"),
    EntityType.LICENSE_PLATE: ("车牌", "车辆", "牌照", "plate", "vehicle", "car"),
    EntityType.LONG_NUMBER: ("号码", "编号", "账号", "卡号", "证号", "number", "no.", "account"),
}
# Matched against the lower-cased window (cheaper than a case-insensitive pattern).
CONTEXT_RES: dict[str, re.Pattern[str]] = {
    entity_type: re.compile("|".join(re.escape(w) for w in words)) for entity_type, words in CONTEXT_WORDS.items()
}


# --- the scan ---------------------------------------------------------------------


def _numeric_findings(text: str, enabled: frozenset[str]) -> list[Finding]:
    findings: list[Finding] = []
    for match in COMBINED.finditer(text):
        start, end = match.span()
        recognizer = BY_GROUP[match.lastindex]  # type: ignore[index]  # each alternative is a group
        finding = _checked(recognizer, text, start, end, enabled) or _fallback(text, start, recognizer, enabled)
        if finding is not None:
            findings.append(finding)
    return findings


def _checked(recognizer: Recognizer, text: str, start: int, end: int, enabled: frozenset[str]) -> Finding | None:
    checked = recognizer.check(text[start:end]) if recognizer.type in enabled or recognizer.measure else None
    if checked is None or checked[1] not in enabled:
        return None
    return Finding(checked[1], start, start + checked[0], recognizer.score)


def _fallback(text: str, start: int, failed: Recognizer, enabled: frozenset[str]) -> Finding | None:
    """The next shape that matches at `start` and validates, once the first one did not."""
    for recognizer in _later_shapes(failed.name, text[start]):
        match = SINGLE[recognizer.name].match(text, start)
        finding = match and _checked(recognizer, text, start, match.end(), enabled)
        if finding:
            return finding
    return None


@functools.cache
def _later_shapes(name: str, first_char: str) -> tuple[Recognizer, ...]:
    """Shapes after `name` that can start with `first_char`: the combined scan found no
    match at this position for the shapes before it."""
    index = next(i for i, r in enumerate(NUMERIC_RECOGNIZERS) if r.name == name)
    return tuple(r for r in NUMERIC_RECOGNIZERS[index + 1 :] if re.fullmatch(r.first, first_char))


def _side_findings(text: str, enabled: frozenset[str]) -> list[Finding]:
    findings: list[Finding] = []
    if EntityType.EMAIL_ADDRESS in enabled and "@" in text:
        for match in EMAIL.finditer(text):
            if validate_email(match.group()):
                findings.append(Finding(EntityType.EMAIL_ADDRESS, match.start(), match.end(), 0.95))
    if EntityType.URL in enabled and ("://" in text or "www." in text):
        for match in URL.finditer(text):
            end = match.end()
            while end > match.start() and text[end - 1] in URL_TRAILING_PUNCTUATION:
                end -= 1
            if end > match.end("prefix"):  # something is left after `https://` or `www.`
                findings.append(Finding(EntityType.URL, match.start(), end, 0.9))
    if EntityType.IP_ADDRESS in enabled and text.count(":") >= 2:
        for match in IPV6.finditer(text):
            value = match.group()
            if ":" in value and validate_ip(value):
                findings.append(Finding(EntityType.IP_ADDRESS, match.start(), match.end(), 0.9))
    return findings


def resolve_overlaps(findings: list[Finding]) -> list[Finding]:
    """Keep one finding per overlapping group: the longest, then the highest score."""
    chosen: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.start - f.end, -f.score, f.start)):
        if all(finding.end <= other.start or finding.start >= other.end for other in chosen):
            chosen.append(finding)
    chosen.sort(key=lambda f: f.start)
    return chosen


def find_entities(
    text: str, enabled: Iterable[str] = ALL_ENTITY_TYPES, *, min_score: float = 0.0, locale: str = DEFAULT_LOCALE
) -> list[Finding]:
    """Every entity of an `enabled` type in `text`, ordered by position, not overlapping;
    `locale` chooses the recognisers of names, addresses and organisations."""
    enabled = enabled if isinstance(enabled, frozenset) else frozenset(enabled)
    findings = _numeric_findings(text, enabled)
    side = _side_findings(text, enabled) + find_names(text, enabled, locale)
    if side:
        findings = resolve_overlaps(findings + side)
    scored = []
    for finding in findings:
        start = finding.start
        context = CONTEXT_RES.get(finding.type)
        if start and context and context.search(text[max(0, start - CONTEXT_WINDOW) : start].lower()):
            finding = finding._replace(score=min(1.0, finding.score + CONTEXT_BOOST))
        if finding.score >= min_score:
            scored.append(finding)
    return scored
