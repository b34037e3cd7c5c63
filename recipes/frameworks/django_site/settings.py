"""Settings of the recipe's Django project: no database, no installed apps."""

from __future__ import annotations

import os

# A real project reads its key from the environment or a secret store.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-key-for-the-wsgimw-recipe")
DEBUG = False
# DEBUG = False makes Django answer a view's error with its own 500 page;
# this lets the error leave Django instead, so that the stack's
# ErrorHandler answers it (and logs the traceback).
DEBUG_PROPAGATE_EXCEPTIONS = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

# Named from this package's own name, so the project works wherever it is
# copied and whatever its folder is called.
ROOT_URLCONF = f"{__package__}.urls"
# What `manage.py runserver` serves: the wrapped application, stack included.
WSGI_APPLICATION = f"{__package__}.wsgi.application"

INSTALLED_APPS: list[str] = []
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
# Django sets the process's local time zone (TZ) to this when it loads its
# settings, so AccessLog's timestamps, in local time, follow it. Django's
# default is America/Chicago.
TIME_ZONE = "UTC"
