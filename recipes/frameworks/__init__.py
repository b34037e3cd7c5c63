"""wsgimw in front of a real app of each framework, one recipe per framework.

Each recipe stands alone, to be copied into a project of your own: a single
module (``flask_app.py``, ``bottle_app.py``, ``cherrypy_app.py``,
``falcon_app.py``, ``turbogears_app.py``, ``wheezy_app.py``) or, for Django,
the ``django_site`` package and, for web2py, the ``web2py_app`` folder,
copied whole. It imports only the standard library, its framework and
wsgimw. Each builds an app with its framework's
own routing and wraps it with the same wsgimw stack at the framework's usual
integration point:

* ``/``: an HTML page of about 8 kB, worth compressing (`Compress`);
* ``/search?q=café&tag=a&tag=b``: JSON that reads the query from
  ``environ["wsgimw.query"]`` (`QueryParser`) beside the framework's own
  parsing of it, to show the two agree;
* ``/private/``: behind `BasicAuth` (user ``demo``, password ``s3cret``);
* ``/boom``: raises, and `ErrorHandler` answers with its own 500 page
  (web2py answers every error itself, with its ticket page);

and `AccessLog` writes one line per request. ``python flask_app.py --port
8000`` serves a recipe with the standard library's server (CherryPy's and
web2py's with their own); from a checkout of wsgimw, ``python -m
recipes.frameworks.flask_app`` does the same.
"""
