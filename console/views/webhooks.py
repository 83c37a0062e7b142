"""A project's webhooks in the console: its team sees them and their deliveries; its creator and staff
add webhooks and send a delivery again."""

from __future__ import annotations

from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from console.errors import add_service_error, explain
from console.lookups import project_for
from llmplatform.errors import DomainError
from notifications import services
from notifications.models import Delivery, EventName, Subscription, WebhookFormat

RECENT_DELIVERIES = 50


class WebhookForm(forms.Form):
    url = forms.CharField(label=gettext_lazy("URL"), max_length=2000)
    format = forms.ChoiceField(label=gettext_lazy("Format"), choices=WebhookFormat.choices)
    events = forms.MultipleChoiceField(
        label=gettext_lazy("Events (none: all)"), choices=EventName.choices, required=False
    )
    secret = forms.CharField(
        label=gettext_lazy("Robot secret (Feishu, DingTalk; blank: a random one)"), max_length=200, required=False
    )


@login_required
def webhook_list(request: HttpRequest, project_id: UUID) -> HttpResponse:
    project = project_for(request.user, project_id)
    can_edit = project.can_edit(request.user)
    form = WebhookForm(request.POST or None)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if form.is_valid():
            try:
                webhook = services.create_subscription(
                    project=project,
                    actor=request.user,
                    url=form.cleaned_data["url"],
                    fmt=form.cleaned_data["format"],
                    events=form.cleaned_data["events"],
                    secret=form.cleaned_data["secret"],
                )
            except DomainError as error:
                add_service_error(form, error)
            else:
                messages.success(
                    request, _("Webhook added. Its signing secret: %(secret)s") % {"secret": webhook.secret}
                )
                return redirect("console:webhooks", project.pk)
    context = {
        "project": project,
        "can_edit": can_edit,
        "form": form,
        "webhooks": Subscription.objects.filter(project=project).order_by("created_at"),
        "deliveries": Delivery.objects.filter(subscription__project=project)
        .select_related("subscription")
        .order_by("-created_at")[:RECENT_DELIVERIES],
    }
    return render(request, "notifications/webhooks.html", context)


@login_required
@require_POST
def delivery_replay(request: HttpRequest, project_id: UUID, delivery_id: UUID) -> HttpResponse:
    project = project_for(request.user, project_id)
    delivery = get_object_or_404(
        Delivery.objects.select_related("subscription__project"), pk=delivery_id, subscription__project=project
    )
    if not project.can_edit(request.user):
        raise PermissionDenied
    try:
        services.replay(delivery=delivery, actor=request.user)
    except DomainError as error:
        messages.error(request, explain(error))
    else:
        messages.success(request, _("The delivery is being sent again."))
    return redirect("console:webhooks", project.pk)
