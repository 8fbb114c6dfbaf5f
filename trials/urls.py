"""URL routes of the trials app: pages and API."""

from django.urls import path  # noqa: F401

app_name = "trials"
urlpatterns: list = []
