from django.contrib import admin

from retention.models import RetentionPolicy


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    list_display = ["project", "keep_last", "keep_best", "best_metric", "best_is", "updated_at"]
    search_fields = ["project__name"]
    raw_id_fields = ["project"]
