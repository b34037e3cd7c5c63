"""A minimal Django project behind a wsgimw stack: ``python -m recipes.frameworks.django_site.wsgi``.

The stack wraps the application in `wsgi` (``wsgi.py``), the one place every
WSGI server and ``manage.py runserver`` (through ``WSGI_APPLICATION``) load
it from. No database and no installed apps: settings, urls and views only.
"""
