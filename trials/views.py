"""Coordinator pages of the trials app."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Landing page: the studies the user belongs to."""
    return render(request, "home.html", {})
