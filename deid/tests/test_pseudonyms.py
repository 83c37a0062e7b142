"""Pseudonyms keep each entity's format and validity, and are stable per key and seed."""

import ipaddress
import random

import phonenumbers
import pytest

from deid.corpus import ENTITY_MAKERS
from deid.names import EN_GIVEN, lexicon
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


@pytest.mark.parametrize("name", ["张三", "王小明", "欧阳娜娜"])
def test_it_gives_a_chinese_name_another_chinese_name_of_the_same_length(name):
    pseudo = pseudonym(KEY, 0, EntityType.PERSON, name)
    assert pseudo != name and len(pseudo) == len(name) and all("\u4e00" <= c <= "\u9fff" for c in pseudo)
    assert find_entities(f"客户{pseudo}", {EntityType.PERSON})[0].start == 2
    compound = pseudo[:2] in {s for s in lexicon("zh_surnames") if len(s) == 2}
    assert compound == (name == "欧阳娜娜")


def test_it_gives_an_english_name_census_names_of_the_same_shape():
    pseudo = pseudonym(KEY, 0, EntityType.PERSON, "John F. Kennedy")
    given, initial, surname = pseudo.split(" ")
    assert given in EN_GIVEN and len(initial) == 2 and initial.endswith(".") and surname != "Kennedy"


def test_it_keeps_an_addresss_province_city_and_hierarchy_with_fictitious_parts():
    original = "上海市浦东新区世纪大道100号2号楼301室"
    pseudo = pseudonym(KEY, 0, EntityType.ADDRESS, original)
    assert pseudo.startswith("上海市") and pseudo != original and len(pseudo) == len(original)
    kept = [index for index, char in enumerate(original) if char in "市新区大道号楼室"]
    assert [pseudo[index] for index in kept] == [original[index] for index in kept]
    assert "浦东" not in pseudo and "世纪" not in pseudo
    assert [(f.type, f.start, f.end) for f in find_entities(pseudo)] == [(EntityType.ADDRESS, 0, len(pseudo))]


def test_it_keeps_an_organisations_region_and_kind():
    pseudo = pseudonym(KEY, 0, EntityType.ORGANIZATION, "北京字节跳动科技有限公司")
    assert pseudo.startswith("北京") and pseudo.endswith("有限公司") and "字节" not in pseudo
    assert pseudonym(KEY, 0, EntityType.ORGANIZATION, "北京大学") != "北京大学"


@pytest.mark.parametrize(
    ("number", "region"),
    [("+44 20 7946 0958", None), ("+852 2123 4567", None), ("(212) 555-0166", "US"), ("303-555-0100", "US")],
)
def test_it_keeps_other_countries_numbers_valid_with_their_country_and_area(number, region):
    pseudo = pseudonym(KEY, 0, EntityType.PHONE_NUMBER, number)
    assert pseudo != number and len(pseudo) == len(number)
    assert phonenumbers.is_valid_number(phonenumbers.parse(pseudo, region))
    national = str(phonenumbers.parse(number, region).national_number)
    digits, pseudo_digits = ([c for c in value if c.isdigit()] for value in (number, pseudo))
    kept = len(digits) - len(national) + 3  # the country code and the area
    assert pseudo_digits[:kept] == digits[:kept] and pseudo_digits != digits
    assert pseudonym(KEY, 0, EntityType.PHONE_NUMBER, number) == pseudo
