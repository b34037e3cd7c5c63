"""A minimal Django project behind a wsgimw stack: ``python -m django_site.wsgi --port 8000``.

This package stands alone: copy the folder whole into a project that has
``django`` and ``wsgimw[htpasswd]`` installed, under any name. Its modules
find each other from the package's own name (``__package__``), not from a
path written into them.

The stack wraps the application in `wsgi` (``wsgi.py``), the one place every
WSGI server and ``manage.py runserver`` (through ``WSGI_APPLICATION``) load
it from. No database and no installed apps: settings, urls and views only.
"""
