import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.apps.tfb_django.settings")
app = application = get_wsgi_application()
