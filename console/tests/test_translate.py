"""The console's scripts have the API's English sentences put in the reader's language."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db
URL = reverse("console:translate")


def post(client, body: object, language: str = "zh-hans"):
    return client.post(URL, json.dumps(body), content_type="application/json", HTTP_ACCEPT_LANGUAGE=language)


def test_it_translates_a_validation_reason_and_leaves_unknown_text_alone(owner_session):
    sentences = ["not valid JSON: Expecting value at column 1", "a sentence of nobody's"]

    translated = post(owner_session, {"sentences": sentences}).json()["sentences"]

    assert "JSON" in translated[0] and "Expecting" not in translated[0] and "column" not in translated[0]
    assert translated[1] == "a sentence of nobody's"


def test_it_answers_in_english_to_an_english_reader(owner_session):
    sentence = "The file is empty; nothing was kept."
    assert post(owner_session, {"sentences": [sentence]}, "en").json() == {"sentences": [sentence]}


@pytest.mark.parametrize("body", [{"sentences": "one"}, {"sentences": ["x"] * 21}, {"other": []}, [1]])
def test_it_refuses_what_is_not_a_short_list_of_sentences(owner_session, body):
    assert post(owner_session, body).status_code == 400


def test_it_serves_only_people_signed_in(client):
    assert post(client, {"sentences": ["x"]}).status_code == 302
