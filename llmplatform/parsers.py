"""Request parsers (a module of their own: DRF imports them while building APIView)."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.parsers import JSONParser

from llmplatform.documents import json_document_problem, nested_too_deeply


class StrictJSONParser(JSONParser):
    """DRF's JSON parser, plus a 400 (not a 500, nor a document kept) for what `json_document_problem` refuses."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            document = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError(f"JSON parse error - {nested_too_deeply()}.") from exc
        if problem := json_document_problem(document):
            raise exceptions.ParseError(f"JSON parse error - {problem}.")
        return document
