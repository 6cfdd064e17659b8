"""The app, for ``kettle run`` and ``kettle serve app:app``.

The settings are ``blog.settings:Development`` unless ``KETTLE_SETTINGS``
names others (``KETTLE_SETTINGS=blog.settings:Production`` in production).
"""

from blog import create_app

app = create_app()
