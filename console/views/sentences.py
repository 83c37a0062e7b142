"""The platform's English sentences in the reader's language, for the console's scripts: they call
the API, which answers in English (a dataset upload's refusal, its validation reasons)."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.views.decorators.http import require_POST

from llmplatform.sentences import translate

MAX_SENTENCES = 20
MAX_SENTENCE_CHARS = 4000


@login_required
@require_POST
def translate_sentences(request: HttpRequest) -> HttpResponse:
    """`{"sentences": [...]}` in, the same list in the request's language out."""
    try:
        sentences = json.loads(request.body)["sentences"]
    except (ValueError, KeyError, TypeError):
        return HttpResponseBadRequest('Send {"sentences": [...]}.')
    if not (
        isinstance(sentences, list)
        and len(sentences) <= MAX_SENTENCES
        and all(isinstance(sentence, str) and len(sentence) <= MAX_SENTENCE_CHARS for sentence in sentences)
    ):
        return HttpResponseBadRequest(f"At most {MAX_SENTENCES} strings of {MAX_SENTENCE_CHARS} characters.")
    return JsonResponse({"sentences": [translate(sentence) for sentence in sentences]})
