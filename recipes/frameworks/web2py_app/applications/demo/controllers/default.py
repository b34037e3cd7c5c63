"""The demo application's pages: ``/demo/default/<function>``, or
``/<function>`` through ``routes.py``.

web2py runs this file for each request, with ``request``, ``response`` and
``session`` among its globals; ``gluon.current`` holds the same objects and
names them for readers and type checkers. Each function without arguments
is a page; what it returns is the body.

web2py finds the pages with a regular expression that wants exactly
``def name():``: a return annotation (``def index() -> str:``) hides the
page, which then answers 404 "invalid function". The types are comments.
"""

from gluon import current  # type: ignore[import-untyped]

#: The page at ``/``: about 8 kB of repetitive HTML, as real pages are.
PAGE = "<!doctype html>\n<title>web2py behind wsgimw</title>\n" + "".join(
    f"<p>Release 1.{n}: fixes and small improvements.</p>\n" for n in range(1, 161)
)


def index():  # type: () -> str
    return PAGE  # web2py sends a str as text/html


def search():  # type: () -> str
    request = current.request
    # web2py copies the environ into request.env, each key in lower case
    # with "." as "_": QueryParser's "wsgimw.query" is request.env.wsgimw_query.
    query = request.env.wsgimw_query
    result: str = current.response.json(  # application/json
        {
            "q": query.get("q"),
            "tags": query.getall("tag"),
            "web2py_q": request.get_vars.q,  # web2py's own parsing still works
        }
    )
    return result


def boom():  # type: () -> str
    raise RuntimeError("the page at /boom failed on purpose")
