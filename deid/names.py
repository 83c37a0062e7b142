"""Person names, addresses and organisations: lexicons plus the context around them.

Chinese text: a name is a surname from the lexicon and one or two given-name characters,
taken where a role word precedes it (客户, 联系人, 姓名：...) or a title or a verb of
saying follows it (先生, 经理, 表示...); found by what follows alone, its given name must
be made of common given-name characters. An address opens with a province or a city of
the lexicon, or follows an address word (地址, 住在...), and goes down the hierarchy:
district or county, town, road or street, number, building, unit, room. An organisation
is a name ending in an organisation's suffix (有限公司, 大学, 医院...). English text: a
given name of the census lexicon, with the capitalised surname after it, or any
capitalised name after a title (Mr., Dr....); a pinyin surname with a capitalised
given name after it.

Names, places and organisations are made of ideographs other than grammar words (the
particles, pronouns, prepositions and common verbs below): no name runs into `的` or `在`.
Every pattern opens with a lexicon word or a one-character class, so the regex engine
finds candidates in C; Python only decides the few it finds.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path

from deid.charclasses import IDEOGRAPH, JOINS
from deid.entities import EntityType, Finding, Locale

LEXICONS = Path(__file__).with_name("lexicons")


@functools.cache
def lexicon(name: str) -> tuple[str, ...]:
    """The entries of `lexicons/<name>.txt`, one a line; `#` starts a comment line."""
    lines = (LEXICONS / f"{name}.txt").read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def alternation(words: Iterable[str]) -> str:
    """Longest first, so that a regex alternation prefers 黑龙江 to 黑."""
    return "|".join(re.escape(word) for word in sorted(set(words), key=lambda w: (-len(w), w)))


def opening(words: Iterable[str]) -> str:
    """A look-ahead for the first characters of `words`: put before a pattern, it lets the
    regex engine skip in C to where one of them may start."""
    return "(?=[" + "".join(sorted({re.escape(word[0]) for word in words})) + "])"


# Grammar words: never part of a person's, a place's or an organisation's own name.
FUNCTION_CHARS = (
    "的了是在有与及或也就自至由还又很把被让给向对从到于为以因所这那其之说请您你我他她"
    "它们吗呢吧啊呀已将会要能可该并但而且则如若即便再才只没不去来过着得等每各本此某年月日号"
)
NAME_CHAR = f"(?:(?![{FUNCTION_CHARS}]){IDEOGRAPH})"

# --- Chinese person names -----------------------------------------------------------

ZH_SURNAME = f"(?:{alternation(lexicon('zh_surnames'))})"
ZH_GIVEN_CHARS = "".join(lexicon("zh_given_name_chars"))
# Words that say a person's name follows.
ZH_NAME_CUES = (
    "客户",
    "用户",
    "顾客",
    "会员",
    "患者",
    "病人",
    "家属",
    "联系人",
    "收件人",
    "收货人",
    "寄件人",
    "申请人",
    "负责人",
    "经办人",
    "办理人",
    "责任人",
    "法定代表人",
    "代表人",
    "代理人",
    "委托人",
    "当事人",
    "被申请人",
    "投诉人",
    "举报人",
    "报案人",
    "嫌疑人",
    "被告人",
    "被告",
    "原告",
    "证人",
    "受害人",
    "姓名",
    "名字",
    "员工",
    "职工",
    "同事",
    "学生",
    "乘客",
    "租客",
    "房东",
    "业主",
    "户主",
    "持卡人",
    "开户人",
    "签收人",
    "司机",
    "驾驶员",
    "对接人",
    "接待人",
    "主讲人",
    "记者",
    "通讯员",
    "本人",
    "名叫",
    "叫做",
    "我叫",
    "他叫",
    "她叫",
    "尊敬的",
    "亲爱的",
    "致",
    # Jobs and titles written before the name: 护士王静怡, 班主任吴雪梅.
    "护士",
    "医生",
    "班主任",
    "老师",
    "经理",
    "主任",
    "工程师",
    "律师",
    "法官",
    "警官",
    "民警",
    "教授",
    "专员",
    "客服",
    "快递员",
    "工作人员",
)
# Titles, kinship words and verbs that follow a person's name.
ZH_NAME_FOLLOWERS = (
    "先生",
    "女士",
    "小姐",
    "老师",
    "经理",
    "总监",
    "总经理",
    "董事长",
    "总裁",
    "主管",
    "医生",
    "大夫",
    "护士",
    "律师",
    "教授",
    "博士",
    "同学",
    "主任",
    "局长",
    "处长",
    "科长",
    "书记",
    "部长",
    "院长",
    "校长",
    "所长",
    "厅长",
    "市长",
    "县长",
    "区长",
    "镇长",
    "村长",
    "队长",
    "组长",
    "工程师",
    "会计",
    "师傅",
    "阿姨",
    "同志",
    "警官",
    "法官",
    "表示",
    "指出",
    "介绍",
    "告诉",
    "透露",
    "认为",
    "强调",
    "来电",
    "反映",
    "投诉",
    "致电",
    "报案",
    "签收",
    "驾驶",
    "持有",
    "持",
    "说",
    "称",
    # A possessive and a kind of personal data: 张伟的身份证.
    "的身份证",
    "的证件",
    "的手机",
    "的电话",
    "的邮箱",
    "的银行卡",
    "的工资卡",
    "的护照",
    "的地址",
    "的联系",
    "的住址",
    "的车",
)
# A cue (or a department: 行政部, 财务处), an optional colon, space or 为/是, the name (the
# greedy given name is trimmed in Python).
ZH_NAME_AFTER_CUE = re.compile(
    f"(?:{alternation(ZH_NAME_CUES)}|(?<={NAME_CHAR})(?P<department>[部处科室组]))[:：\\s]?[为是]?"
    f"(?P<name>{ZH_SURNAME}{NAME_CHAR}{{1,2}})"
)
IS_GIVEN_NAME = re.compile(f"[{''.join(lexicon('zh_given_name_chars'))}]+")
# The name, then its title or verb: the shortest given name the follower comes right after.
ZH_NAME_BEFORE_TITLE = re.compile(
    f"{opening(lexicon('zh_surnames'))}(?P<name>{ZH_SURNAME}[{ZH_GIVEN_CHARS}]{{1,2}}?)"
    f"(?={alternation(ZH_NAME_FOLLOWERS)})"
)
ZH_FOLLOWER_START = re.compile(alternation(ZH_NAME_FOLLOWERS))
# A name in brackets right after a number: 请联系13812345678（王伟）.
ZH_NAME_IN_BRACKETS = re.compile(f"(?<=[0-9])[（(](?P<name>{ZH_SURNAME}[{ZH_GIVEN_CHARS}]{{1,2}})[）)]")
# Another name in a list after a found one: 张三、李四和王五.
ZH_NAME_LIST_NEXT = re.compile(f"[、,，和与及](?P<name>{ZH_SURNAME}[{ZH_GIVEN_CHARS}]{{1,2}})(?!{NAME_CHAR})")


def _trim_given_name(text: str, start: int, end: int) -> int:
    """Where a name taken greedily after a cue ends: before a follower that starts inside it."""
    for cut in range(end - 1, start + 1, -1):
        if ZH_FOLLOWER_START.match(text, cut):
            return cut
    return end


def _chinese_names(text: str) -> list[Finding]:
    spans: dict[int, int] = {}
    for match in ZH_NAME_AFTER_CUE.finditer(text):
        start, end = match.span("name")
        end = _trim_given_name(text, start, end)
        # After a department, or with a surname that is also a grammar word (于, 和), the
        # given name must be of the lexicon's characters.
        loose = match.group("department") or text[start] in FUNCTION_CHARS
        if not loose or IS_GIVEN_NAME.fullmatch(text, start + 1, end):
            spans[start] = end
    for pattern in (ZH_NAME_BEFORE_TITLE, ZH_NAME_IN_BRACKETS):
        for match in pattern.finditer(text):
            spans.setdefault(match.start("name"), match.end("name"))
    findings = []
    for start, end in sorted(spans.items()):
        findings.append(Finding(EntityType.PERSON, start, end, 0.8))
        position = end
        while (listed := ZH_NAME_LIST_NEXT.match(text, position)) is not None:
            findings.append(Finding(EntityType.PERSON, listed.start("name"), listed.end("name"), 0.7))
            position = listed.end()
    return findings


# --- Chinese addresses --------------------------------------------------------------

PROVINCE = f"(?:{alternation(lexicon('zh_provinces'))})(?:壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区|省|市)?"
CITY = f"(?:{alternation(lexicon('zh_cities'))})(?:市|地区|自治州|州|盟)?"
NUMERAL = "[0-9０-９一二三四五六七八九十百零〇]"
# Each level below the city, as (name, suffix): shortest name first, streets before
# villages, so that 中关村大街 is a street, not 中关 + 村; numbered levels of a building
# before the house number.
ADDRESS_LEVELS = (
    (f"{NAME_CHAR}{{1,6}}?", "新区|开发区|高新区|自治县|自治旗|区|县|旗|市"),
    (f"{NAME_CHAR}{{1,8}}?", f"(?:大街|大道|胡同|路|街|巷|弄|道)(?:[东西南北中]段|{NUMERAL}+段)?"),
    (f"{NAME_CHAR}{{1,6}}?", "街道|镇|乡|村|社区"),
    (f"{NAME_CHAR}{{1,8}}?", "小区|花园|大厦|广场|公寓|家园|新村|苑|园|城|中心|大楼"),
    (f"(?:{NUMERAL}+|[A-Za-z]{NUMERAL}*)", "号楼|栋|幢|座|单元|层|楼|室|户"),
    (f"{NUMERAL}+(?:[-－]{NUMERAL}+)?", "号院|号|弄|巷"),
)
ADDRESS_LEVEL = "(?:" + "|".join(f"{name}(?:{suffix})" for name, suffix in ADDRESS_LEVELS) + ")"
REGION = f"(?:{PROVINCE}(?:{CITY})?|{CITY})"
# A province or a city of the lexicon, then at least one lower level.
ADDRESS_FROM_REGION = re.compile(f"{opening(lexicon('zh_provinces') + lexicon('zh_cities'))}{REGION}{ADDRESS_LEVEL}+")
ADDRESS_REGION = re.compile(REGION)
# One level with its suffix apart: what a pseudonym keeps.
ADDRESS_PART = re.compile("|".join(f"{name}(?P<suffix{i}>{suffix})" for i, (name, suffix) in enumerate(ADDRESS_LEVELS)))
ADDRESS_CUES = (
    "地址",
    "住址",
    "住所",
    "住在",
    "家住",
    "居住在",
    "现住",
    "位于",
    "寄到",
    "寄往",
    "送到",
    "送至",
    "邮寄至",
)
# After an address word, two levels at least, from any level.
ADDRESS_AFTER_CUE = re.compile(f"(?:{alternation(ADDRESS_CUES)})[:：\\s]?(?P<address>{ADDRESS_LEVEL}{{2,}})")


def _addresses(text: str) -> list[Finding]:
    findings = [Finding(EntityType.ADDRESS, m.start(), m.end(), 0.85) for m in ADDRESS_FROM_REGION.finditer(text)]
    findings += [
        Finding(EntityType.ADDRESS, m.start("address"), m.end("address"), 0.75)
        for m in ADDRESS_AFTER_CUE.finditer(text)
    ]
    return findings


# --- Chinese organisations ----------------------------------------------------------

# Suffixes only an organisation's name ends with.
DISTINCT_ORGANIZATION_SUFFIXES = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "集团公司",
    "集团",
    "律师事务所",
    "会计师事务所",
    "事务所",
    "研究院",
    "研究所",
    "委员会",
    "出版社",
    "报社",
    "电视台",
    "基金会",
    "人民医院",
    "人民法院",
    "人民检察院",
    "公安局",
    "派出所",
    "幼儿园",
)
# Suffixes that are ordinary nouns too (提供公司, 推动学校): a name only with a province,
# a city or a district in it, where the name starts.
COMMON_ORGANIZATION_SUFFIXES = (
    "公司",
    "银行",
    "分行",
    "支行",
    "医院",
    "卫生院",
    "大学",
    "学院",
    "中学",
    "小学",
    "学校",
    "协会",
    "商会",
    "合作社",
    "工作室",
    "酒店",
    "局",
    "厅",
)
ORGANIZATION_SUFFIXES = DISTINCT_ORGANIZATION_SUFFIXES + COMMON_ORGANIZATION_SUFFIXES
ORGANIZATION_SUFFIX = re.compile(alternation(ORGANIZATION_SUFFIXES))
ORGANIZATION_SUFFIX_AT_END = re.compile(f"(?:{alternation(ORGANIZATION_SUFFIXES)})$")
IS_NAME_CHAR = re.compile(NAME_CHAR)
ORGANIZATION_MAX_NAME = 14
PLACE_IN_NAME = re.compile(f"{REGION}|{NAME_CHAR}{{1,4}}?(?:区|县)")


def _organizations(text: str) -> list[Finding]:
    """Each suffix with the name characters before it (two at least: 这家公司, 子公司 are
    no names), from its first province, city or district if it has one."""
    findings = []
    for match in ORGANIZATION_SUFFIX.finditer(text):
        start = match.start()
        while start > 0 and match.start() - start < ORGANIZATION_MAX_NAME and IS_NAME_CHAR.match(text, start - 1):
            start -= 1
        place = PLACE_IN_NAME.search(text, start, match.start())
        if place is not None:
            start = place.start()
        elif match.group() in COMMON_ORGANIZATION_SUFFIXES:
            continue
        if match.start() - start >= 2:
            findings.append(Finding(EntityType.ORGANIZATION, start, match.end(), 0.75))
    return findings


# --- English person names -----------------------------------------------------------

EN_GIVEN = frozenset(lexicon("en_given_names"))
EN_SURNAMES = frozenset(lexicon("en_surnames")) | frozenset(lexicon("zh_pinyin_surnames"))
PINYIN_SURNAMES = frozenset(lexicon("zh_pinyin_surnames"))
# A given name that is never a surname does not end a name: `Alice Mary` is two people or a double name.
EN_GIVEN_ONLY = EN_GIVEN - EN_SURNAMES
EN_NOT_NAMES = frozenset(lexicon("en_place_words"))
# Given names that are also months: a name only with a surname or a title.
EN_MONTH_NAMES = frozenset(("April", "May", "June", "August"))
EN_WORD_NAMES = EN_MONTH_NAMES | frozenset(lexicon("en_word_names"))
TITLES = ("Mr", "Mrs", "Ms", "Miss", "Dr", "Prof", "Professor", "Sir", "Madam", "Mx")
CAPITALISED = "[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?"
# Runs of capitalised words, a middle initial allowed; a title may stand before.
EN_CANDIDATE = re.compile(
    rf"(?=[A-Z])(?:(?P<title>{'|'.join(TITLES)})\.?\s+)?(?P<run>{CAPITALISED}(?:\s+(?:[A-Z]\.\s+)?{CAPITALISED})*)(?!{JOINS})"
)
EN_TOKEN = re.compile(rf"{CAPITALISED}|[A-Z]\.")
JOINS_CHAR = re.compile(JOINS)


def _english_names(text: str) -> list[Finding]:
    findings = []
    for match in EN_CANDIDATE.finditer(text):
        if match.start() and JOINS_CHAR.match(text, match.start() - 1):
            continue  # the end of a longer word (McDonald's "Donald")
        tokens = list(EN_TOKEN.finditer(text, match.start("run"), match.end("run")))
        if match.group("title"):
            findings.append(Finding(EntityType.PERSON, tokens[0].start(), tokens[-1].end(), 0.85))
            continue
        findings += _names_in_run(text, tokens)
    return findings


def _names_in_run(text: str, tokens: list[re.Match[str]]) -> list[Finding]:
    """Names inside a run of capitalised words: a given name with the surname after it
    (an initial between them), a pinyin surname with a given name, or a given name alone."""
    findings = []
    index = 0
    if any(token.group() in EN_NOT_NAMES for token in tokens):
        return []
    while index < len(tokens):
        word = tokens[index].group()
        following = [t for t in tokens[index + 1 : index + 3] if not t.group().endswith(".")]
        surname = following[0] if following else None
        if word in EN_GIVEN and surname is not None and surname.group() not in EN_GIVEN_ONLY:
            findings.append(Finding(EntityType.PERSON, tokens[index].start(), surname.end(), 0.85))
            index = tokens.index(surname) + 1
            continue
        if word in PINYIN_SURNAMES and surname is not None:
            findings.append(Finding(EntityType.PERSON, tokens[index].start(), surname.end(), 0.7))
            index = tokens.index(surname) + 1
            continue
        if word in EN_GIVEN and (word not in EN_WORD_NAMES or _inside_sentence(text, tokens[index].start(), word)):
            findings.append(Finding(EntityType.PERSON, tokens[index].start(), tokens[index].end(), 0.7))
        index += 1
    return findings


AFTER_LOWERCASE_WORD = re.compile(r"[a-z,][ ]+$")


def _inside_sentence(text: str, start: int, word: str) -> bool:
    return word not in EN_MONTH_NAMES and AFTER_LOWERCASE_WORD.search(text, max(0, start - 3), start) is not None


# --- by locale ----------------------------------------------------------------------

NAME_TYPES = frozenset({EntityType.PERSON, EntityType.ADDRESS, EntityType.ORGANIZATION})


def find_names(text: str, enabled: frozenset[str], locale: str) -> list[Finding]:
    """Names, addresses and organisations of the `enabled` types the locale's recognisers find."""
    if not enabled & NAME_TYPES:
        return []
    findings: list[Finding] = []
    if locale != Locale.EN:
        if EntityType.PERSON in enabled:
            findings += _chinese_names(text)
        if EntityType.ADDRESS in enabled:
            findings += _addresses(text)
        if EntityType.ORGANIZATION in enabled:
            findings += _organizations(text)
    if locale != Locale.ZH_CN and EntityType.PERSON in enabled:
        findings += _english_names(text)
    return findings
