"""The TechEmpower database tests on Django (WSGI), a Django app of its own:
settings, models, views, urls and the fortunes template, written as TechEmpower's
Django entry writes them (``CONN_MAX_AGE`` persistent connections, no middleware,
``objects.get`` per row, ``save()`` per updated row, ``values()`` for fortunes).
Served by ``bench.apps.tfb_django.wsgi:app``; the database comes from the
``DATABASE_URL`` environment variable."""
