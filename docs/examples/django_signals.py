"""Django's signals, in kettle.signals: the Django original of each line is in
its comment; the models are django_models.py's."""

from django_models import Tea

from kettle.signals import model_after_insert
from kettle.signals import model_after_update
from kettle.signals import receiver
from kettle.signals import user_logged_in

EVENTS: list[str] = []


@receiver(model_after_insert, sender=Tea)  # @receiver(post_save, sender=Tea)
def tea_added(sender, instance, **kwargs):  # ... if created:
    EVENTS.append(f"added {instance.name}")


@receiver(model_after_update, sender=Tea)  # ... if not created:
def tea_changed(sender, instance, **kwargs):
    EVENTS.append(f"changed {instance.name}")


@receiver(user_logged_in)  # @receiver(user_logged_in): the same name
def logged_in(sender, user, request, **kwargs):
    EVENTS.append(f"{user.username} logged in")
