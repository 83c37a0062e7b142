"""A labelled zh+en corpus for measuring detection: `python -m deid.corpus --lines 20000`.

Every line is a sentence with zero or more entities in it (Chinese sentences with no
space around them, English ones with) and the exact span and type of each, plus
near-misses that must not be taken for personal data: order numbers, 10- and
13-digit timestamps, ID numbers and card numbers with a wrong check character,
impossible birth dates, mobiles with a prefix nobody uses, invalid IP addresses,
dates, times, prices and version strings. The same seed gives the same corpus.

Entities are built from their definitions (real prefixes and region codes, a real
birth date and the MOD 11-2 check character, Luhn), not by the detector under test.
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import re
import string
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from deid.recognizers import MOBILE_PREFIXES, EntityType, id_check_char, luhn_check_digit

# Real county-level region codes; those opening with 35/62/64/65 are left out of the
# wrong-checksum near-misses because an 18-digit number there can be a valid card.
REGIONS = (
    "110101",
    "110105",
    "310104",
    "310115",
    "440305",
    "440106",
    "330106",
    "320102",
    "510107",
    "420102",
    "370202",
    "210102",
    "500103",
    "610113",
    "350203",
    "620102",
    "650102",
    "130102",
    "410105",
    "430104",
)
NEAR_MISS_REGIONS = tuple(r for r in REGIONS if r[:2] not in {"35", "62", "64", "65"})
CARD_BINS = ("622202", "622848", "621700", "622588", "625911", "436742", "524374", "356833", "601382", "622609")
AREA_CODES = ("010", "020", "021", "022", "023", "024", "025", "027", "028", "029", "0755", "0571", "0512", "0731")
MAIL_DOMAINS = ("qq.com", "163.com", "gmail.com", "outlook.com", "example.com", "corp-mail.cn", "sina.com")
WEB_HOSTS = ("www.example.com", "docs.example.org", "shop.example.cn", "intranet.corp.local.cn", "github.com")
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁苏浙赣鄂桂甘晋蒙陕吉闽贵粤川宁琼"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN = ("伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰")
EN_NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")
EN_SURNAMES = ("Smith", "Johnson", "Brown", "Miller", "Davis", "Wilson", "Taylor", "Clark")
# Addresses: a province-level city or a province and its capital, then district, road, number.
ADDRESS_REGIONS = ("北京市", "上海市", "广东省广州市", "浙江省杭州市", "四川省成都市", "湖北省武汉市", "江苏省南京市")
ADDRESS_DISTRICTS = ("海淀区", "朝阳区", "浦东新区", "天河区", "西湖区", "武侯区", "洪山区", "鼓楼区")
ADDRESS_ROADS = ("中关村大街", "人民路", "建设路", "解放大道", "文三路", "科华北路", "珞喻路", "中山东路")
ORG_BRANDS = ("华信", "恒通", "博远", "星河", "嘉和", "云启")
ORG_KINDS = ("科技有限公司", "贸易有限公司", "股份有限公司", "人民医院", "实验中学", "律师事务所")
# Numbers of other countries as people write them: country code, area, subscriber.
INTERNATIONAL_NUMBERS = (
    ("+1", "415", "555", "{4}"),
    ("+44", "20", "7946", "{4}"),
    ("+852", "", "2123", "{4}"),
    ("+81", "3", "1234", "{4}"),
    ("+65", "", "6123", "{4}"),
)


@dataclass
class LabelledLine:
    text: str
    entities: list[tuple[str, int, int]] = field(default_factory=list)  # (type, start, end)

    def to_json(self) -> str:
        return json.dumps({"text": self.text, "entities": self.entities}, ensure_ascii=False)


# --- entities -------------------------------------------------------------------


def mobile(rng: random.Random) -> str:
    number = rng.choice(sorted(MOBILE_PREFIXES)) + "".join(rng.choices(string.digits, k=8))
    style = rng.randrange(6)
    if style == 1:
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    if style == 2:
        return f"{number[:3]} {number[3:7]} {number[7:]}"
    if style == 3:
        return f"+86 {number}"
    if style == 4:
        return f"+86{number}"
    return number


def landline(rng: random.Random) -> str:
    area = rng.choice(AREA_CODES)
    subscriber = str(rng.randint(2, 8)) + "".join(rng.choices(string.digits, k=7 if len(area) == 3 else 6))
    return rng.choice((f"{area}-{subscriber}", f"({area}){subscriber}", f"{area}{subscriber}"))


def birth_date(rng: random.Random) -> datetime.date:
    return datetime.date(1950, 1, 1) + datetime.timedelta(days=rng.randrange(365 * 55))


def id_card(rng: random.Random, regions: tuple[str, ...] = REGIONS) -> str:
    first17 = rng.choice(regions) + birth_date(rng).strftime("%Y%m%d") + "".join(rng.choices(string.digits, k=3))
    return first17 + id_check_char(first17)


def bank_card(rng: random.Random) -> str:
    bin_ = rng.choice(CARD_BINS)
    length = 16 if bin_[0] in "45" else rng.choice((16, 19))
    payload = bin_ + "".join(rng.choices(string.digits, k=length - 7))
    number = payload + luhn_check_digit(payload)
    if rng.random() < 0.3:
        return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    return number


def email(rng: random.Random) -> str:
    local = (
        rng.choice(EN_NAMES)
        + rng.choice(("", ".", "_"))
        + rng.choice(("wang", "li", "zhang", ""))
        + str(rng.randrange(1000))
    )
    return f"{local}@{rng.choice(MAIL_DOMAINS)}"


def ip_address(rng: random.Random) -> str:
    if rng.random() < 0.2:
        groups = [f"{rng.randrange(1 << 16):x}" for _ in range(4)]
        return "2001:db8:" + ":".join(groups) + "::" + f"{rng.randrange(1, 1 << 16):x}"
    if rng.random() < 0.4:
        return f"192.168.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    return f"{rng.randint(11, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randint(1, 254)}"


def url(rng: random.Random) -> str:
    path = "/".join(rng.choice(("docs", "user", "item", "a1b2", "p")) for _ in range(rng.randint(1, 3)))
    query = rng.choice(("", f"?id={rng.randrange(10**6)}", "?q=test&page=2"))
    return f"{rng.choice(('https://', 'http://'))}{rng.choice(WEB_HOSTS)}/{path}{query}"


def passport(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice("EG") + "".join(rng.choices(string.digits, k=8))
    return "E" + rng.choice(PLATE_LETTERS) + "".join(rng.choices(string.digits, k=7))


def plate(rng: random.Random) -> str:
    head = rng.choice(PROVINCES) + rng.choice(PLATE_LETTERS)
    if rng.random() < 0.3:  # new-energy
        if rng.random() < 0.5:
            return (
                head
                + rng.choice("DF")
                + rng.choice(PLATE_LETTERS + string.digits)
                + "".join(rng.choices(string.digits, k=4))
            )
        return head + "".join(rng.choices(string.digits, k=5)) + rng.choice("DF")
    tail = [*rng.choices(string.digits, k=4), rng.choice(PLATE_LETTERS + string.digits)]
    rng.shuffle(tail)
    return head + "".join(tail)


def international_phone(rng: random.Random) -> str:
    country, area, exchange, _ = rng.choice(INTERNATIONAL_NUMBERS)
    subscriber = "".join(rng.choices(string.digits, k=4))
    separator = rng.choice((" ", "-"))
    return separator.join(part for part in (country, area, exchange, subscriber) if part)


def address(rng: random.Random) -> str:
    number = f"{rng.randint(1, 999)}号"
    detail = rng.choice(("", f"{rng.randint(1, 20)}号楼{rng.randint(1, 6)}单元{rng.randint(101, 2505)}室"))
    return rng.choice(ADDRESS_REGIONS) + rng.choice(ADDRESS_DISTRICTS) + rng.choice(ADDRESS_ROADS) + number + detail


def organization(rng: random.Random) -> str:
    return rng.choice(ADDRESS_REGIONS)[-3:-1] + rng.choice(ORG_BRANDS) + rng.choice(ORG_KINDS)


ENTITY_MAKERS: dict[str, Callable[[random.Random], str]] = {
    EntityType.PHONE_NUMBER: mobile,
    EntityType.LANDLINE_NUMBER: landline,
    EntityType.ID_CARD: id_card,
    EntityType.BANK_CARD: bank_card,
    EntityType.EMAIL_ADDRESS: email,
    EntityType.IP_ADDRESS: ip_address,
    EntityType.URL: url,
    EntityType.PASSPORT: passport,
    EntityType.LICENSE_PLATE: plate,
    EntityType.ADDRESS: address,
    EntityType.ORGANIZATION: organization,
}
# Entities of a type that another maker makes too: drawn in its place now and then.
SECOND_MAKERS: dict[str, Callable[[random.Random], str]] = {EntityType.PHONE_NUMBER: international_phone}


# --- near-misses ----------------------------------------------------------------


def order_number(rng: random.Random) -> str:
    return rng.choice(("2023", "2024", "2025")) + "".join(rng.choices(string.digits, k=rng.randint(12, 16)))


def timestamp(rng: random.Random) -> str:
    seconds = rng.randint(1_500_000_000, 1_799_999_999)
    return str(seconds) if rng.random() < 0.6 else str(seconds * 1000 + rng.randrange(1000))


def wrong_check_id(rng: random.Random) -> str:
    number = id_card(rng, NEAR_MISS_REGIONS)
    return number[:17] + rng.choice([c for c in "0123456789X" if c != number[17]])


def impossible_date_id(rng: random.Random) -> str:
    first17 = (
        rng.choice(NEAR_MISS_REGIONS) + f"{rng.randint(1950, 2004)}0230" + "".join(rng.choices(string.digits, k=3))
    )
    return first17 + id_check_char(first17)


def wrong_luhn_card(rng: random.Random) -> str:
    number = bank_card(rng).replace(" ", "")
    return number[:-1] + str((int(number[-1]) + rng.randint(1, 9)) % 10)


def unused_mobile_prefix(rng: random.Random) -> str:
    return rng.choice(("120", "121", "123", "140", "141", "154", "160", "179")) + "".join(
        rng.choices(string.digits, k=8)
    )


def invalid_ip(rng: random.Random) -> str:
    return f"{rng.randint(256, 999)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"


def date_or_time(rng: random.Random) -> str:
    return rng.choice(
        (
            f"{rng.randint(2000, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
            f"{rng.randint(2000, 2025)}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日",
        )
    )


def price_or_version(rng: random.Random) -> str:
    return rng.choice(
        (
            f"¥{rng.randint(1, 99999)}.{rng.randint(0, 99):02d}",
            f"v{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
            f"{rng.randint(1, 999)},{rng.randint(100, 999)},{rng.randint(100, 999)}",
        )
    )


NEAR_MISS_MAKERS: tuple[Callable[[random.Random], str], ...] = (
    order_number,
    timestamp,
    wrong_check_id,
    impossible_date_id,
    wrong_luhn_card,
    unused_mobile_prefix,
    invalid_ip,
    date_or_time,
    price_or_version,
)


# --- sentences ------------------------------------------------------------------

# `{}` is a slot; Chinese templates put entities right against Chinese characters.
ZH_TEMPLATES = {
    EntityType.PHONE_NUMBER: ("客户{name}的手机号{}，请尽快回电", "联系方式：{}（{name}）", "请拨打{}咨询售后问题"),
    EntityType.LANDLINE_NUMBER: ("办公室电话{}，工作日接听", "传真号码{}请勿拨打", "请致电{}转人工"),
    EntityType.ID_CARD: ("{name}的身份证号码是{}，已核验", "证件号{}对应的用户已注销", "身份证{}"),
    EntityType.BANK_CARD: ("退款将打到卡号{}的账户", "请核对银行卡{}是否正确", "{name}的工资卡{}已冻结"),
    EntityType.EMAIL_ADDRESS: ("邮箱{}已绑定", "请把简历发到{}谢谢", "{name}的联系邮箱：{}"),
    EntityType.IP_ADDRESS: ("登录IP为{}，请确认是否本人操作", "服务器地址{}无法访问", "来自{}的请求被拦截"),
    EntityType.URL: ("详情见{}", "请访问{}下载附件", "链接：{}，有效期七天"),
    EntityType.PASSPORT: ("护照号{}已过期", "{name}持护照{}出境", "请提供护照{}的复印件"),
    EntityType.LICENSE_PLATE: ("车牌{}的车辆违停", "{name}驾驶{}于昨日进入园区", "车辆{}已缴费"),
    EntityType.ADDRESS: ("收货地址：{}", "{name}的住址是{}", "请把发票寄到{}"),
    EntityType.ORGANIZATION: ("{name}在{}工作", "我们与{}签订了合同", "来自{}的投诉已处理"),
}
EN_TEMPLATES = {
    EntityType.PHONE_NUMBER: (
        "Please call {} after 6pm.",
        "Mobile: {} (ask for {ename})",
        "{ename} changed the phone to {}.",
    ),
    EntityType.LANDLINE_NUMBER: ("Office line {} is open on weekdays.", "Fax: {}"),
    EntityType.ID_CARD: ("The resident ID {} was verified.", "ID no. {} belongs to {ename}."),
    EntityType.BANK_CARD: ("Refund to card {} within 3 days.", "Card number {} has expired."),
    EntityType.EMAIL_ADDRESS: ("Send the report to {}.", "{ename} can be reached at {} any time."),
    EntityType.IP_ADDRESS: ("Login from {} was blocked.", "The host {} did not answer."),
    EntityType.URL: ("See {} for details.", "Download it from {}."),
    EntityType.PASSPORT: ("Passport {} expires next year.", "{ename} travels with passport {}."),
    EntityType.LICENSE_PLATE: ("The car {} was parked outside.", "Vehicle {} entered the garage."),
    EntityType.ADDRESS: ("Ship it to {} please.", "{ename} moved to {} last year."),
    EntityType.ORGANIZATION: ("{ename} works at {} now.", "The invoice came from {}."),
}
ZH_NEAR_MISS = ("订单号{}已发货", "时间戳{}", "编号{}的记录已归档", "金额{}元", "流水号：{}", "{}更新了版本")
EN_NEAR_MISS = ("Order {} has shipped.", "Timestamp {} recorded.", "Ticket #{} was closed.", "Total {} paid.")
ZH_PLAIN = (
    "今天的会议改到下午三点。",
    "模型训练已经完成，损失下降到零点八。",
    "请大家在周五前提交周报。",
    "数据集清洗完毕，可以开始微调。",
)
EN_PLAIN = (
    "The training run finished without errors.",
    "Please review the pull request today.",
    "Loss went down to 0.8 after 3 epochs.",
)


SLOTS = re.compile(r"(\{name\}|\{ename\}|\{\})")


def _fill(template: str, value: str, rng: random.Random) -> tuple[str, int, list[tuple[str, int, int]]]:
    """Fill a template's names, then its slot; return the text, the slot's offset and
    the names' spans (a person's name is an entity too)."""
    chinese_name = rng.choice(SURNAMES) + rng.choice(GIVEN)
    english_name = rng.choice(EN_NAMES).title() + (f" {rng.choice(EN_SURNAMES)}" if rng.random() < 0.5 else "")
    text = ""
    offset = 0
    names: list[tuple[str, int, int]] = []
    for piece in SLOTS.split(template):
        if piece in ("{name}", "{ename}"):
            name = chinese_name if piece == "{name}" else english_name
            names.append((EntityType.PERSON, len(text), len(text) + len(name)))
            text += name
        elif piece == "{}":
            offset = len(text)
            text += value
        else:
            text += piece
    return text, offset, names


def make_line(rng: random.Random) -> LabelledLine:
    """One to three clauses, each an entity sentence, a near-miss or plain text."""
    line = LabelledLine("")
    chinese = rng.random() < 0.6
    for _ in range(rng.randint(1, 3)):
        roll = rng.random()
        if roll < 0.55:
            entity_type = rng.choice(tuple(ENTITY_MAKERS))
            templates = (ZH_TEMPLATES if chinese else EN_TEMPLATES)[entity_type]
            maker = SECOND_MAKERS.get(entity_type) if rng.random() < 0.3 else None
            value = (maker or ENTITY_MAKERS[entity_type])(rng)
            clause, offset, names = _fill(rng.choice(templates), value, rng)
            start = len(line.text)
            entities = [*names, (entity_type, offset, offset + len(value))]
            line.entities += sorted(((kind, start + s, start + e) for kind, s, e in entities), key=lambda e: e[1])
            line.text += clause
        elif roll < 0.85:
            clause, _, _ = _fill(
                rng.choice(ZH_NEAR_MISS if chinese else EN_NEAR_MISS), rng.choice(NEAR_MISS_MAKERS)(rng), rng
            )
            line.text += clause
        else:
            line.text += rng.choice(ZH_PLAIN if chinese else EN_PLAIN)
        line.text += rng.choice("，。；") if chinese and line.text[-1] not in "。，" else " "
    line.text = line.text.rstrip()
    return line


def generate(lines: int, seed: int = 0) -> list[LabelledLine]:
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    return [make_line(rng) for _ in range(lines)]


# --- scoring --------------------------------------------------------------------


@dataclass
class Score:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 1.0


def score(corpus: Iterable[LabelledLine], found: Iterable[Iterable[tuple[str, int, int]]]) -> dict[str, Score]:
    """Per-type precision and recall of `found` (spans per line) against the labels;
    a finding counts only with the exact span and type."""
    scores: dict[str, Score] = {}
    for line, spans in zip(corpus, found, strict=True):
        # Spans read back from JSON are lists: make them tuples, to count them.
        expected = Counter((kind, start, end) for kind, start, end in line.entities)
        got = Counter((kind, start, end) for kind, start, end in spans)
        for span in expected | got:
            entity_score = scores.setdefault(span[0], Score())
            hits = min(expected[span], got[span])
            entity_score.true_positives += hits
            entity_score.false_negatives += expected[span] - hits
            entity_score.false_positives += got[span] - hits
    return dict(sorted(scores.items()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="JSONL file to write (default: standard output)")
    args = parser.parse_args(argv)
    corpus = generate(args.lines, args.seed)
    with args.out.open("w", encoding="utf-8") if args.out else sys.stdout as out:
        for line in corpus:
            out.write(line.to_json() + "\n")


if __name__ == "__main__":
    main()
