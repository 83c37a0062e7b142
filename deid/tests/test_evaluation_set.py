"""The evaluation set written apart from the generator, and `manage.py evaluate_deid`."""

from io import StringIO

from django.core.management import call_command

from deid.evaluation import evaluate, evaluation_sets, parse_document
from deid.names import NAME_TYPES


def test_it_reads_marked_entities_as_spans_of_the_plain_text():
    line = parse_document("客户[[PERSON:张三]]，电话[[PHONE_NUMBER:13812345678]]。")
    assert line.text == "客户张三，电话13812345678。"
    assert line.entities == [("PERSON", 2, 4), ("PHONE_NUMBER", 7, 18)]


def test_it_plants_personal_data_at_a_realistic_density_in_every_style():
    sets = evaluation_sets()
    assert {"zh_notices", "zh_customer", "en_news"} <= set(sets)
    for name, documents in sets.items():
        characters = sum(len(d.text) for d in documents)
        entities = sum(len(d.entities) for d in documents)
        assert "[[" not in "".join(d.text for d in documents), name
        assert 150 <= characters / entities <= 1000, (name, characters / entities)


def test_it_reaches_the_goals_on_the_evaluation_set():
    documents = [document for documents in evaluation_sets().values() for document in documents]
    for entity_type, result in evaluate(documents, locale="both").items():
        goal = 0.90 if entity_type in NAME_TYPES else 0.99
        assert result.precision >= goal and result.recall >= goal, (entity_type, result)


def test_it_prints_precision_and_recall_per_type_from_the_command_line():
    out = StringIO()
    call_command("evaluate_deid", "--locale", "zh-CN", stdout=out)
    report = out.getvalue()
    assert "zh_notices:" in report and "all:" in report and "locale zh-CN" in report
    assert "PHONE_NUMBER" in report and "precision" in report and "recall" in report
