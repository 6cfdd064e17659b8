"""The admin of Django's tutorial, part 7: questions, with their choices edited
inline, listed with their publication date and whether they are recent (the
model's method, described by ``@display`` in models.py), filtered by date and
searched by text."""

from __future__ import annotations

from kettle.admin import AdminSection
from kettle.admin import Inline
from kettle.admin import ModelAdmin

from . import bp
from .models import Choice
from .models import Question

polls_admin = AdminSection(bp, label="Polls")


class ChoiceInline(Inline):
    model = Choice
    fields = ["choice_text", "votes"]
    extra = 3


class QuestionAdmin(ModelAdmin):
    fields = ["question_text", "pub_date"]
    inlines = [ChoiceInline]
    list_display = ["question_text", "pub_date", "was_published_recently"]
    list_filter = ["pub_date"]
    search_fields = ["question_text"]
    ordering = ["-pub_date"]


polls_admin.register(Question, QuestionAdmin)
