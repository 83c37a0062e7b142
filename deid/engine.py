"""Replacing what the recognisers found, per a policy's rules.

A `Deidentifier` is built once per policy version, secret and seed, then applied to
any number of texts (a request's list, every line of a dataset). It caches
pseudonyms, so a value seen again costs a dictionary look-up.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from deid.entities import ALL_ENTITY_TYPES, DEFAULT_LOCALE, EntityType
from deid.pseudonyms import hmac_message, pseudonym
from deid.recognizers import find_entities


class Operator:
    PSEUDONYMIZE = "pseudonymize"
    MASK = "mask"
    REDACT = "redact"
    HASH = "hash"
    KEEP = "keep"


OPERATORS = (Operator.PSEUDONYMIZE, Operator.MASK, Operator.REDACT, Operator.HASH, Operator.KEEP)
# Masking keeps the last four digits of numbers, as bank statements do.
MASK_KEEPS_TAIL = frozenset(
    {EntityType.PHONE_NUMBER, EntityType.LANDLINE_NUMBER, EntityType.ID_CARD, EntityType.BANK_CARD}
)
HASH_HEX_CHARS = 16
PSEUDONYM_CACHE_SIZE = 200_000


@dataclass(frozen=True)
class PolicyConfig:
    """What a policy version says: which types to find, how to replace each, and the
    lowest score (after context words) a finding needs."""

    entities: dict[str, str]  # entity type -> operator; absent types are not looked for
    min_score: float = 0.5
    mask_char: str = "*"

    @classmethod
    def default(cls) -> PolicyConfig:
        return cls(entities={t: Operator.PSEUDONYMIZE for t in ALL_ENTITY_TYPES if t != EntityType.LONG_NUMBER})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PolicyConfig:
        """Build from stored or submitted JSON; raises ValueError naming what is wrong."""
        entities = data.get("entities")
        if not isinstance(entities, dict) or not entities:
            raise ValueError("entities must be an object mapping entity types to operators.")
        unknown = sorted(set(entities) - set(ALL_ENTITY_TYPES))
        if unknown:
            raise ValueError(f"Unknown entity types: {', '.join(unknown)}; known: {', '.join(ALL_ENTITY_TYPES)}.")
        bad = sorted(t for t, op in entities.items() if op not in OPERATORS)
        if bad:
            raise ValueError(f"Unknown operator for {', '.join(bad)}; use one of: {', '.join(OPERATORS)}.")
        min_score = data.get("min_score", 0.5)
        if isinstance(min_score, bool) or not isinstance(min_score, int | float) or not 0 <= min_score <= 1:
            raise ValueError("min_score must be a number between 0 and 1.")
        mask_char = data.get("mask_char", "*")
        if not isinstance(mask_char, str) or len(mask_char) != 1:
            raise ValueError("mask_char must be a single character.")
        return cls(entities=dict(entities), min_score=float(min_score), mask_char=mask_char)

    def to_dict(self) -> dict[str, Any]:
        return {"entities": dict(self.entities), "min_score": self.min_score, "mask_char": self.mask_char}


class Replacement(NamedTuple):
    type: str
    start: int  # offsets in the original text
    end: int
    original: str
    replacement: str
    score: float


@dataclass
class Deidentifier:
    config: PolicyConfig
    secret: bytes
    seed: int = 0
    locale: str = DEFAULT_LOCALE  # which recognisers of names, addresses and organisations run
    counts: dict[str, int] = field(default_factory=dict)  # replacements per entity type, over all calls
    _cache: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._enabled = frozenset(self.config.entities)
        self._min_score = self.config.min_score

    def deidentify(self, text: str) -> tuple[str, list[Replacement]]:
        findings = find_entities(text, self._enabled, min_score=self._min_score, locale=self.locale)
        if not findings:
            return text, []
        pieces: list[str] = []
        replacements: list[Replacement] = []
        counts = self.counts
        cache = self._cache
        position = 0
        for entity_type, start, end, score in findings:
            original = text[start:end]
            replacement = cache.get((entity_type, original))  # holds pseudonyms only
            if replacement is None:
                replacement = self.replace(entity_type, original)
            pieces += (text[position:start], replacement)
            position = end
            replacements.append(Replacement(entity_type, start, end, original, replacement, score))
            counts[entity_type] = counts.get(entity_type, 0) + 1
        pieces.append(text[position:])
        return "".join(pieces), replacements

    def deidentify_json(self, value: Any) -> tuple[Any, list[Replacement]]:
        """Every string value of a parsed JSON document, at any depth, scrubbed in place
        (iteratively: a deeply nested document cannot exhaust the stack); keys stay."""
        if isinstance(value, str):
            return self.deidentify(value)
        replacements: list[Replacement] = []
        pending = [value] if isinstance(value, dict | list) else []
        while pending:
            node = pending.pop()
            for key, item in list(node.items() if isinstance(node, dict) else enumerate(node)):
                if isinstance(item, str):
                    scrubbed, found = self.deidentify(item)
                    if found:
                        node[key] = scrubbed
                        replacements += found
                elif isinstance(item, dict | list):
                    pending.append(item)
        return value, replacements

    def deidentify_json_text(self, document: str) -> tuple[str, list[Replacement]]:
        """A JSON document as text; returned unchanged, formatting and all, when it holds nothing to scrub."""
        value, replacements = self.deidentify_json(json.loads(document))
        return (json.dumps(value, ensure_ascii=False) if replacements else document), replacements

    def replace(self, entity_type: str, original: str) -> str:
        operator = self.config.entities[entity_type]
        if operator == Operator.PSEUDONYMIZE:
            return self.pseudonymize(entity_type, original)
        if operator == Operator.REDACT:
            return f"<{entity_type}>"
        if operator == Operator.HASH:
            digest = hmac.new(self.secret, hmac_message(self.seed, entity_type, original), hashlib.sha256)
            return digest.hexdigest()[:HASH_HEX_CHARS]
        if operator == Operator.MASK:
            return self.mask(entity_type, original)
        return original

    def pseudonymize(self, entity_type: str, original: str) -> str:
        key = (entity_type, original)
        cached = self._cache.get(key)
        if cached is None:
            if len(self._cache) >= PSEUDONYM_CACHE_SIZE:
                self._cache.clear()
            cached = self._cache[key] = pseudonym(self.secret, self.seed, entity_type, original)
        return cached

    def mask(self, entity_type: str, original: str) -> str:
        char = self.config.mask_char
        if entity_type == EntityType.EMAIL_ADDRESS:
            local, _, domain = original.rpartition("@")
            return local[:1] + char * (len(local) - 1) + "@" + domain
        keep_from = len(original)
        if entity_type in MASK_KEEPS_TAIL:
            alnum_seen = 0
            for index in range(len(original) - 1, -1, -1):
                if original[index].isalnum():
                    alnum_seen += 1
                    if alnum_seen == 4:
                        keep_from = index
                        break
        return "".join(
            c if index >= keep_from or not c.isalnum() or not c.isascii() else char for index, c in enumerate(original)
        )
