"""URL routes of the readers app: pages and API."""

from django.urls import path  # noqa: F401

app_name = "readers"
urlpatterns: list = []
