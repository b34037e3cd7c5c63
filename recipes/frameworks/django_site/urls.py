"""The recipe's URLconf."""

from __future__ import annotations

from django.urls import path  # type: ignore[import-untyped]

from . import views

urlpatterns = [
    path("", views.index),
    path("search", views.search),
    path("private/", views.private),
    path("boom", views.boom),
]
