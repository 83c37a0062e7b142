"""Detection: what is found, with which span, and what is rightly left alone."""

import pytest

from deid.recognizers import ALL_ENTITY_TYPES, EntityType, find_entities, id_check_char, luhn_check_digit

DEFAULT_TYPES = frozenset(t for t in ALL_ENTITY_TYPES if t != EntityType.LONG_NUMBER)


def found(text: str, types=DEFAULT_TYPES) -> list[tuple[str, str]]:
    return [(f.type, text[f.start : f.end]) for f in find_entities(text, types)]


def valid_id(first17: str) -> str:
    return first17 + id_check_char(first17)


def valid_card(payload: str) -> str:
    return payload + luhn_check_digit(payload)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("客户手机号 13812345678", "13812345678"),
        ("手机号13812345678请回电", "13812345678"),  # no space: \b would miss it
        ("call +86 138-1234-5678 now", "+86 138-1234-5678"),
        ("电话+8613812345678。", "+8613812345678"),
        ("号码：(+86)199 1234 5678", "(+86)199 1234 5678"),
        ("Phone: 166-0000-1111.", "166-0000-1111"),
    ],
)
def test_it_finds_mainland_mobiles_in_every_common_shape(text, value):
    assert found(text) == [(EntityType.PHONE_NUMBER, value)]


@pytest.mark.parametrize(
    "text",
    [
        "时间戳1700000000已记录",  # 10-digit epoch seconds
        "时间戳1700000000123已记录",  # 13-digit epoch milliseconds
        "号码12012345678无效",  # no operator uses 120
        "订单号138123456789",  # 12 digits
        "编号A13812345678",  # part of an ASCII token
        "138-1234 5678",  # mixed separators: two things, not one number
    ],
)
def test_it_leaves_mobile_lookalikes_alone(text):
    assert found(text) == []


def test_it_finds_resident_ids_with_a_real_date_and_check_character():
    number = valid_id("11010519491231002")
    assert number == "11010519491231002X"
    assert found(f"身份证号{number}已核验") == [(EntityType.ID_CARD, number)]
    assert found(f"id {number.lower()}.") == [(EntityType.ID_CARD, number.lower())]


@pytest.mark.parametrize(
    "number",
    [
        "110105194912310021",  # wrong check character
        valid_id("11010519490230002"),  # 30 February
        valid_id("99010519491231002"),  # no province 99
        valid_id("11010530001231002"),  # born in the future
    ],
)
def test_it_rejects_id_numbers_that_fail_validation(number):
    assert found(f"身份证{number}") == []


def test_it_finds_bank_cards_that_pass_luhn_and_have_a_card_issuer():
    unionpay19 = valid_card("622202123456789012")
    visa = valid_card("436742123456789")
    assert found(f"卡号{unionpay19}，备用卡{visa}") == [
        (EntityType.BANK_CARD, unionpay19),
        (EntityType.BANK_CARD, visa),
    ]
    grouped = " ".join(visa[i : i + 4] for i in range(0, 16, 4))
    assert found(f"card {grouped} expired") == [(EntityType.BANK_CARD, grouped)]


def test_it_rejects_card_numbers_with_a_wrong_check_digit_or_no_issuer():
    card = valid_card("622202123456789")
    wrong = card[:-1] + str((int(card[-1]) + 1) % 10)
    order = valid_card("202311230000123")  # Luhn passes by chance; 2023 is no issuer
    assert found(f"卡号{wrong} 订单号{order}") == []


@pytest.mark.parametrize(
    ("text", "entity_type", "value"),
    [
        ("邮箱alice.wang@example.com已绑定", EntityType.EMAIL_ADDRESS, "alice.wang@example.com"),
        ("办公室电话010-62345678转人工", EntityType.LANDLINE_NUMBER, "010-62345678"),
        ("传真(0755)2345678", EntityType.LANDLINE_NUMBER, "(0755)2345678"),
        ("登录IP为192.168.1.10，请确认", EntityType.IP_ADDRESS, "192.168.1.10"),
        ("来自2001:db8::8a2e:370:7334的请求", EntityType.IP_ADDRESS, "2001:db8::8a2e:370:7334"),
        ("详情见https://example.com/a/b?id=3，谢谢", EntityType.URL, "https://example.com/a/b?id=3"),
        ("See www.example.org/docs.", EntityType.URL, "www.example.org/docs"),
        ("护照号E12345678已过期", EntityType.PASSPORT, "E12345678"),
        ("护照EB1234567", EntityType.PASSPORT, "EB1234567"),
        ("车牌京A12345的车辆", EntityType.LICENSE_PLATE, "京A12345"),
        ("新能源粤BD12345进入", EntityType.LICENSE_PLATE, "粤BD12345"),
        ("大型车沪A12345F进入", EntityType.LICENSE_PLATE, "沪A12345F"),
    ],
)
def test_it_finds_each_entity_type_inside_chinese_and_english_text(text, entity_type, value):
    assert found(text) == [(entity_type, value)]


@pytest.mark.parametrize(
    "text",
    [
        "地址999.1.2.3无效",
        "时间12:30:45开始",
        "std::vector<int>",
        "联系alice@localhost",
        "京A级景区",
        "版本v1.2.3发布",
        "日期2023-11-23",
        "协议写作http://.",
    ],
)
def test_it_does_not_mistake_near_misses_for_entities(text):
    assert found(text) == []


def test_it_takes_the_longest_of_overlapping_findings():
    assert found("联系13812345678@qq.com") == [(EntityType.EMAIL_ADDRESS, "13812345678@qq.com")]
    assert found("打开http://192.168.1.10/admin") == [(EntityType.URL, "http://192.168.1.10/admin")]


def test_it_finds_long_numbers_only_where_the_policy_enables_the_fallback():
    text = "编号20231123000123456的记录"
    assert found(text) == []
    assert found(text, DEFAULT_TYPES | {EntityType.LONG_NUMBER}) == [(EntityType.LONG_NUMBER, "20231123000123456")]
    # A validated type still wins over the fallback on the same span.
    assert found("手机13812345678", DEFAULT_TYPES | {EntityType.LONG_NUMBER}) == [
        (EntityType.PHONE_NUMBER, "13812345678")
    ]


def test_it_finds_only_enabled_types():
    assert found("手机13812345678 邮箱a@example.com", {EntityType.EMAIL_ADDRESS}) == [
        (EntityType.EMAIL_ADDRESS, "a@example.com")
    ]


def test_it_raises_the_score_when_context_words_precede_a_finding():
    [plain] = find_entities("E12345678", DEFAULT_TYPES)
    [with_context] = find_entities("护照号码E12345678", DEFAULT_TYPES)
    assert with_context.score > plain.score
    assert find_entities("E12345678", DEFAULT_TYPES, min_score=0.8) == []
    assert len(find_entities("passport E12345678", DEFAULT_TYPES, min_score=0.8)) == 1


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Call +1 415-555-0123 today.", "+1 415-555-0123"),
        ("Office: (212) 555-0166.", "(212) 555-0166"),
        ("Denver desk 303-555-0100, ext. 4", "303-555-0100"),
        ("伦敦办公室+44 20 7946 0958，周一至周五", "+44 20 7946 0958"),
        ("香港+852 2123 4567联系", "+852 2123 4567"),
        ("Tokyo +81 3-1234-5678 in 2024", "+81 3-1234-5678"),  # the year after it is not part of it
        ("UK +44 (0)20 7946 0958", "+44 (0)20 7946 0958"),
    ],
)
def test_it_finds_other_countries_numbers_that_phonenumbers_validates(text, value):
    assert found(text) == [(EntityType.PHONE_NUMBER, value)]


@pytest.mark.parametrize(
    "text",
    ["Call +1 123-456-7890", "Ratio +44 1", "Dial 123-555-0100", "Order 303-155-0100", "Sum +12 34"],
)
def test_it_leaves_numbers_no_numbering_plan_allows_alone(text):
    assert found(text) == []


def test_it_tells_a_mainland_fixed_line_with_a_country_code_from_a_phone_number():
    assert found("北京办公室+86 10 6234 5678") == [(EntityType.LANDLINE_NUMBER, "+86 10 6234 5678")]


def test_it_finds_an_ip_address_glued_after_letters_and_stops_a_url_at_a_curly_quote():
    assert found("登录IP10.2.3.4谢谢") == [(EntityType.IP_ADDRESS, "10.2.3.4")]
    assert found("链接“https://example.com/a”请查收") == [(EntityType.URL, "https://example.com/a")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("客户张三，住址：北京市海淀区中关村大街1号", [("PERSON", "张三"), ("ADDRESS", "北京市海淀区中关村大街1号")]),
        ("联系人：欧阳娜娜", [("PERSON", "欧阳娜娜")]),
        ("李明华先生表示同意", [("PERSON", "李明华")]),
        ("请联系13812345678（王伟）", [("PHONE_NUMBER", "13812345678"), ("PERSON", "王伟")]),
        ("请寄到上海市浦东新区世纪大道100号2号楼301室", [("ADDRESS", "上海市浦东新区世纪大道100号2号楼301室")]),
        ("我在北京字节跳动科技有限公司工作", [("ORGANIZATION", "北京字节跳动科技有限公司")]),
        ("承办单位深圳市第二职业技术学校负责", [("ORGANIZATION", "深圳市第二职业技术学校")]),
        ("Yesterday Alice Johnson met Dr. Smith.", [("PERSON", "Alice Johnson"), ("PERSON", "Smith")]),
        ("Mr. Wang Wei and Zhang Li spoke.", [("PERSON", "Wang Wei"), ("PERSON", "Zhang Li")]),
    ],
)
def test_it_finds_names_addresses_and_organisations(text, expected):
    assert found(text, ALL_ENTITY_TYPES) == expected


@pytest.mark.parametrize(
    "text",
    [
        "高度重视，方面军做好准备",  # surname characters inside ordinary words
        "经查，当事人于今年八月",  # a surname that is a grammar word, and no given name
        "请您提供公司名称，根据学校安排",  # organisation suffixes that are ordinary nouns
        "北京时间八点，在上海工作",  # a city is no address
        "May is here. Will you come in June?",  # months and words that are given names too
        "He flew to Hong Kong.",
    ],
)
def test_it_leaves_ordinary_words_that_look_like_names_alone(text):
    assert found(text, ALL_ENTITY_TYPES) == []


def test_it_chooses_the_name_recognisers_by_locale():
    text = "客户张三 met Alice Johnson"
    assert [v for _, v in found_in_locale(text, "zh-CN")] == ["张三"]
    assert [v for _, v in found_in_locale(text, "en")] == ["Alice Johnson"]
    assert [v for _, v in found_in_locale(text, "both")] == ["张三", "Alice Johnson"]
    assert found_in_locale("手机13812345678", "en") == [(EntityType.PHONE_NUMBER, "13812345678")]


def found_in_locale(text: str, locale: str) -> list[tuple[str, str]]:
    return [(f.type, text[f.start : f.end]) for f in find_entities(text, ALL_ENTITY_TYPES, locale=locale)]
