"""The recipe's views: Django's own request and response objects."""

from __future__ import annotations

from django.http import (  # type: ignore[import-untyped]
    HttpRequest,
    HttpResponse,
    JsonResponse,
)

from recipes.frameworks import BOOM, BoomError, article, private_text


def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse(article("Django"))


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
    # BasicAuth let the request in and named the user.
    return HttpResponse(
        private_text(request.META["REMOTE_USER"]), content_type="text/plain"
    )


def boom(request: HttpRequest) -> HttpResponse:
    raise BoomError(BOOM)
