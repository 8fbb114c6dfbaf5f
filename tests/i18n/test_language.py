"""The language switch, the remembered choice, the browser's language, localized formats."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.conf import settings
from django.template import Context, Template
from django.test import Client
from django.urls import reverse
from django.utils import translation

from preferences.models import UserPreference
from preferences.services import language_for
from tests.trials.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def login(client: Client, user, **headers) -> None:
    """A real login through the login page (the axes backend and the login signal run)."""
    response = client.post(
        reverse("login"), {"username": user.username, "password": PASSWORD}, **headers
    )
    assert response.status_code == 302, response.content[:500]


def switch(client: Client, language: str, next_url: str = "/"):
    return client.post(reverse("set_language"), {"language": language, "next": next_url})


def test_accept_language_zh_hans_gives_chinese_pages() -> None:
    client = Client()
    for header in ("zh-Hans", "zh-CN,zh;q=0.9,en;q=0.5", "zh-hans-CN"):
        response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE=header)
        body = response.content.decode()
        assert response["Content-Language"] == "zh-hans", header
        assert '<html lang="zh-hans">' in body
        assert "<h1>登录</h1>" in body and "Log in" not in body
    english = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    assert english["Content-Language"] == "en" and "<h1>Log in</h1>" in english.content.decode()
    # A language we do not have falls back to the site's default, English.
    assert client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="fr-FR")["Content-Language"] == "en"


def test_logged_in_pages_follow_the_browser_without_a_stored_choice() -> None:
    user = UserFactory(username="browser-lang")
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    login(client, user)
    body = client.get(reverse("home")).content.decode()
    assert "您的研究" in body and "退出登录" in body and "Your studies" not in body
    assert not UserPreference.objects.filter(user=user).exists()
    assert language_for(user) == settings.LANGUAGE_CODE


def test_every_page_has_the_language_switch() -> None:
    user = UserFactory(username="switch-everywhere")
    client = Client()
    login(client, user)
    for url in (reverse("login"), reverse("home"), reverse("readers:worklist")):
        body = client.get(url).content.decode()
        assert 'id="language-switch"' in body and f'action="{reverse("set_language")}"' in body, url
        assert (
            'name="csrfmiddlewaretoken"'
            in body.split('id="language-switch"')[1].split("</form>")[0]
        )
        assert 'value="zh-hans" lang="zh-hans">简体中文</button>' in body
        assert 'value="en" lang="en" aria-pressed="true" disabled>English</button>' in body


def test_the_switch_is_remembered_for_the_user_across_a_new_login() -> None:
    user, other = UserFactory(username="switcher"), UserFactory(username="other-user")
    first = Client(HTTP_ACCEPT_LANGUAGE="en")
    login(first, user)
    assert "Your studies" in first.get(reverse("home")).content.decode()
    response = switch(first, "zh-hans", reverse("readers:worklist"))
    assert response.status_code == 302 and response["Location"] == reverse("readers:worklist")
    assert UserPreference.objects.get(user=user).language == "zh-hans"
    assert "您的阅片任务" in first.get(reverse("readers:worklist")).content.decode()
    first.post(reverse("logout"))
    # After logging out, the browser keeps the choice (the language cookie).
    assert "<h1>登录</h1>" in first.get(reverse("login")).content.decode()

    # Another browser, another day, an English Accept-Language: the stored choice wins.
    second = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert "<h1>Log in</h1>" in second.get(reverse("login")).content.decode()
    login(second, user)
    home = second.get(reverse("home"))
    assert home["Content-Language"] == "zh-hans" and "您的研究" in home.content.decode()
    assert language_for(user) == "zh-hans"

    # Someone else on an English browser is not affected.
    third = Client(HTTP_ACCEPT_LANGUAGE="en")
    login(third, other)
    assert "Your studies" in third.get(reverse("home")).content.decode()

    # Back to English: stored as well.
    switch(second, "en")
    assert UserPreference.objects.get(user=user).language == "en"
    fourth = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    login(fourth, user)
    assert "Your studies" in fourth.get(reverse("home")).content.decode()


def test_the_switch_needs_the_csrf_token_and_a_known_language() -> None:
    user = UserFactory(username="csrf-switch")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert response.status_code == 403
    assert not UserPreference.objects.filter(user=user).exists()
    lax = Client()
    lax.force_login(user)
    lax.post(reverse("set_language"), {"language": "xx", "next": "/"})
    assert not UserPreference.objects.filter(user=user).exists()
    # An outside `next` is not followed.
    assert switch(lax, "zh-hans", "https://evil.example/")["Location"] == "/"


def test_anonymous_switch_sets_the_cookie_only() -> None:
    client = Client()
    response = switch(client, "zh-hans", reverse("login"))
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    assert "<h1>登录</h1>" in client.get(reverse("login")).content.decode()
    assert not UserPreference.objects.exists()


def test_javascript_catalog_is_a_script_file_in_the_users_language() -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-Hans")
    page = client.get(reverse("login")).content.decode()
    assert f'<script src="{reverse("javascript-catalog")}" defer></script>' in page
    catalog = client.get(reverse("javascript-catalog"))
    assert catalog.status_code == 200 and catalog["Content-Type"].startswith("text/javascript")
    text = catalog.content.decode()
    assert "草稿已保存" in text or json.dumps("草稿已保存") in text
    # The CSP allows scripts from the site only; the catalog is one, nothing inline.
    assert "script-src 'self'" in catalog.get("Content-Security-Policy", "script-src 'self'")
    assert "<script>" not in page


def test_dates_and_numbers_are_formatted_per_language() -> None:
    when = dt.datetime(2025, 3, 7, 14, 5, tzinfo=dt.UTC)
    template = Template(
        '{{ when|date:"SHORT_DATETIME_FORMAT" }} · {{ when|date:"DATETIME_FORMAT" }}'
        " · {{ x|floatformat:2 }}"
    )
    context = Context({"when": when, "x": 1234.5})
    with translation.override("zh-hans"):
        chinese = template.render(context)
    with translation.override("en"):
        english = template.render(context)
    assert chinese.startswith("2025年3月7日 14:05")
    assert "March 7, 2025" in english and "03/07/2025" in english
    assert english != chinese


def test_chinese_form_labels_and_choices() -> None:
    """Python strings (forms, model choices, messages) come out in the active language."""
    from readers.forms import AnswerForm

    with translation.override("zh-hans"):
        html = str(AnswerForm())
    assert "脑室内出血（IVH）" in html and "脑室周围白质软化（PVL）" in html and "脑积水" in html
