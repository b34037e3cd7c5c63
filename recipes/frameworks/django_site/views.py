"""The recipe's views: Django's own request and response objects."""

from __future__ import annotations

from django.http import (  # type: ignore[import-untyped]
    HttpRequest,
    HttpResponse,
    JsonResponse,
)

#: The page at ``/``: about 8 kB of repetitive HTML, as real pages are.
PAGE = "<!doctype html>\n<title>Django behind wsgimw</title>\n" + "".join(
    f"<p>Release 1.{n}: fixes and small improvements.</p>\n" for n in range(1, 161)
)


def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PAGE)


def search(request: HttpRequest) -> JsonResponse:
    query = request.META["wsgimw.query"]  # META is the WSGI environ
    return JsonResponse(
        {
            "q": query.get("q"),
            "tags": query.getall("tag"),
            "django_q": request.GET.get("q"),  # Django's own parsing still works
        }
    )


def private(request: HttpRequest) -> HttpResponse:
    user = request.META["REMOTE_USER"]  # BasicAuth let the request in
    text = f"Hello {user}: only users with a password see this page.\n"
    return HttpResponse(text, content_type="text/plain")


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the page at /boom failed on purpose")
