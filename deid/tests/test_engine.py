"""Operators and the Deidentifier that applies a policy to texts and JSON documents."""

import json

import pytest

from deid.engine import Deidentifier, Operator, PolicyConfig
from deid.recognizers import EntityType

SECRET = b"s" * 32


def scrub(text: str, operator: str, entity_type: str = EntityType.PHONE_NUMBER, **kwargs) -> str:
    config = PolicyConfig(entities={entity_type: operator}, **kwargs)
    return Deidentifier(config=config, secret=SECRET).deidentify(text)[0]


def test_it_applies_each_operator():
    text = "手机13812345678"
    assert scrub(text, Operator.REDACT) == "手机<PHONE_NUMBER>"
    assert scrub(text, Operator.MASK) == "手机*******5678"
    assert scrub(text, Operator.MASK, mask_char="#") == "手机#######5678"
    assert scrub(text, Operator.KEEP) == text
    hashed = scrub(text, Operator.HASH)
    assert hashed.startswith("手机") and len(hashed) == 2 + 16 and "13812345678" not in hashed


def test_it_salts_hashes_with_the_policy_secret():
    config = PolicyConfig(entities={EntityType.PHONE_NUMBER: Operator.HASH})
    one = Deidentifier(config=config, secret=b"a" * 32).deidentify("13812345678")[0]
    other = Deidentifier(config=config, secret=b"b" * 32).deidentify("13812345678")[0]
    assert one != other


def test_it_masks_emails_keeping_the_first_letter_and_domain():
    assert scrub("mail alice@qq.com", Operator.MASK, EntityType.EMAIL_ADDRESS) == "mail a****@qq.com"


def test_it_gives_one_person_one_pseudonym_across_texts():
    deidentifier = Deidentifier(config=PolicyConfig.default(), secret=SECRET, seed=3)
    first, _ = deidentifier.deidentify("A：我的手机是13812345678")
    second, replacements = deidentifier.deidentify("B：好的，13812345678，稍后回电")
    assert first[-11:] == second[5:16]
    assert deidentifier.counts == {EntityType.PHONE_NUMBER: 2}
    assert replacements[0].original == "13812345678" and replacements[0].replacement == first[-11:]


def test_it_scrubs_every_string_value_of_json_but_not_keys():
    deidentifier = Deidentifier(config=PolicyConfig.default(), secret=SECRET)
    document = {
        "13812345678": "key stays",
        "messages": [{"role": "user", "content": "邮箱bob@example.com"}, {"n": 13812345678}],
    }
    out, replacements = deidentifier.deidentify_json(document)
    assert "13812345678" in out and out["13812345678"] == "key stays"
    assert out["messages"][1] == {"n": 13812345678}  # numbers are not strings
    assert "bob@example.com" not in json.dumps(out) and len(replacements) == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "entities"),
        ({"entities": {"NAME": "mask"}}, "Unknown entity types: NAME"),
        ({"entities": {"URL": "shred"}}, "Unknown operator for URL"),
        ({"entities": {"URL": "mask"}, "min_score": 2}, "min_score"),
        ({"entities": {"URL": "mask"}, "mask_char": "**"}, "mask_char"),
    ],
)
def test_it_rejects_policy_configs_naming_what_is_wrong(data, message):
    with pytest.raises(ValueError, match=message):
        PolicyConfig.from_dict(data)
