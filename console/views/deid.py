"""The de-identification playground: text in, entities found and pseudonyms out, per policy."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.middleware import HtmxDetails

from console.errors import explain
from console.forms import DeidPlaygroundForm
from deid import services
from deid.engine import Replacement
from deid.models import DEFAULT_POLICY_NAME
from llmplatform.errors import NotPermitted, TooLarge


@dataclass(frozen=True)
class Piece:
    """A stretch of the de-identified text; `entity_type` is set where a replacement sits."""

    text: str
    entity_type: str = ""


def output_pieces(text: str, replacements: list[Replacement]) -> list[Piece]:
    """The de-identified text cut at its replacements (their offsets are in the original)."""
    pieces, position = [], 0
    for replacement in replacements:
        pieces.append(Piece(text[position : replacement.start]))
        pieces.append(Piece(replacement.replacement, replacement.type))
        position = replacement.end
    pieces.append(Piece(text[position:]))
    return [piece for piece in pieces if piece.text]


class HtmxRequest(HttpRequest):
    """A request as django_htmx's middleware leaves it."""

    htmx: HtmxDetails


@login_required
def playground(request: HtmxRequest) -> HttpResponse:
    form = DeidPlaygroundForm(request.POST or None, initial={"policy": DEFAULT_POLICY_NAME})
    context: dict = {"form": form, "may_reveal": services.may_reveal_mapping(request.user)}
    if request.method == "POST" and form.is_valid():
        text = form.cleaned_data["text"]
        reveal = form.cleaned_data["reveal_mapping"]
        try:
            outcome = services.deidentify_texts(
                policy=form.cleaned_data["policy"],
                texts=[text],
                seed=form.cleaned_data["seed"],
                reveal_mapping=reveal,
                actor=request.user,
            )
        except NotPermitted as refusal:
            form.add_error("reveal_mapping", explain(refusal))
        except TooLarge as refusal:
            form.add_error("text", explain(refusal))
        else:
            replacements = outcome.replacements[0]
            context.update(
                pieces=output_pieces(text, replacements),
                replacements=replacements if reveal else None,
                outcome=outcome,
                deidentified=outcome.deidentified[0],
            )
    template = "deid/_result.html" if request.htmx and request.method == "POST" else "deid/playground.html"
    return render(request, template, context, status=400 if form.errors else 200)
