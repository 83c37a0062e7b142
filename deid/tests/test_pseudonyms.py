"""Pseudonyms keep each entity's format and validity, and are stable per key and seed."""

import ipaddress
import random

import pytest

from deid.corpus import ENTITY_MAKERS
from deid.pseudonyms import pseudonym
from deid.recognizers import (
    MOBILE_PREFIXES,
    EntityType,
    find_entities,
    is_valid_id_card,
    passes_luhn,
    validate_bank_card,
)

KEY = bytes(range(32))


def test_it_gives_the_same_pseudonym_for_the_same_value_key_and_seed():
    first = pseudonym(KEY, 42, EntityType.PHONE_NUMBER, "13812345678")
    assert first == pseudonym(KEY, 42, EntityType.PHONE_NUMBER, "13812345678")
    assert first != pseudonym(KEY, 43, EntityType.PHONE_NUMBER, "13812345678")
    assert first != pseudonym(b"another key", 42, EntityType.PHONE_NUMBER, "13812345678")
    assert first != pseudonym(KEY, 42, EntityType.PHONE_NUMBER, "13812345679")


def test_it_keeps_a_mobile_plausible_and_its_separators():
    pseudo = pseudonym(KEY, 0, EntityType.PHONE_NUMBER, "+86 138-1234-5678")
    assert pseudo.startswith("+86 ")
    assert [len(part) for part in pseudo[4:].split("-")] == [3, 4, 4]
    assert pseudo[4:7] in MOBILE_PREFIXES


def test_it_keeps_region_birth_year_sex_and_a_correct_check_character_in_id_numbers():
    original = "11010519491231002X"
    pseudo = pseudonym(KEY, 0, EntityType.ID_CARD, original)
    assert pseudo != original
    assert is_valid_id_card(pseudo)
    assert pseudo[:6] == "110105" and pseudo[6:10] == "1949"
    assert int(pseudo[16]) % 2 == int(original[16]) % 2


def test_it_keeps_the_issuer_length_and_luhn_of_cards():
    original = "6222 0212 3456 7890 128"
    pseudo = pseudonym(KEY, 0, EntityType.BANK_CARD, original)
    digits = pseudo.replace(" ", "")
    assert [len(g) for g in pseudo.split(" ")] == [4, 4, 4, 4, 3]
    assert digits[:6] == "622202" and passes_luhn(digits)


def test_it_keeps_an_email_shape_and_a_public_mail_domain():
    assert pseudonym(KEY, 0, EntityType.EMAIL_ADDRESS, "Alice.Wang88@qq.com").endswith("@qq.com")
    pseudo = pseudonym(KEY, 0, EntityType.EMAIL_ADDRESS, "bob@acme-corp.cn")
    local, domain = pseudo.split("@")
    assert len(local) == 3 and domain.endswith(".cn") and "acme" not in domain


@pytest.mark.parametrize("address", ["192.168.1.10", "10.2.3.4", "8.8.8.8", "2001:db8::1", "fe80::1"])
def test_it_keeps_ip_addresses_valid_and_of_the_same_kind(address):
    original = ipaddress.ip_address(address)
    pseudo = ipaddress.ip_address(pseudonym(KEY, 0, EntityType.IP_ADDRESS, address))
    assert pseudo != original and pseudo.version == original.version
    assert pseudo.is_private == original.is_private


@pytest.mark.parametrize("entity_type", sorted(ENTITY_MAKERS))
def test_it_gives_pseudonyms_the_detector_recognises_as_the_same_type(entity_type):
    """A pseudonym is as valid as the original: scanning it finds the same type again."""
    rng = random.Random(7)
    for _ in range(200):
        original = ENTITY_MAKERS[entity_type](rng)
        pseudo = pseudonym(KEY, rng.randrange(100), entity_type, original)
        assert [(f.type, f.start, f.end) for f in find_entities(pseudo)] == [(entity_type, 0, len(pseudo))], (
            original,
            pseudo,
        )
        if entity_type == EntityType.BANK_CARD:
            assert validate_bank_card(pseudo)
