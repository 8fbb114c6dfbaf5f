"""Password reset by e-mail: the link sets a new password once."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from tests.accounts.conftest import link_in
from tests.trials.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-password-9876"


def test_password_reset_link_works_once() -> None:
    user = UserFactory(username="forgetful", email="forgetful@example.org")
    client = Client()
    assert "Forgot your password?" in client.get("/accounts/login/").content.decode()
    response = client.post("/accounts/password-reset/", {"email": "Forgetful@example.org"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password-reset/sent/"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["forgetful@example.org"]
    assert "forgetful" in mail.outbox[0].body
    link = link_in(mail.outbox[0])

    form = client.get(link, follow=True)  # Django moves the token into the session
    assert form.status_code == 200 and 'name="new_password1"' in form.content.decode()
    set_url = form.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)

    login = Client().post("/accounts/login/", {"username": "forgetful", "password": NEW_PASSWORD})
    assert login.status_code == 302 and login["Location"] == "/"
    again = Client().get(link, follow=True)
    assert (
        "not valid" in again.content.decode()
        and 'name="new_password1"' not in again.content.decode()
    )


def test_an_unknown_address_gets_the_same_answer_and_no_mail() -> None:
    response = Client().post("/accounts/password-reset/", {"email": "nobody@example.org"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password-reset/sent/"
    assert mail.outbox == []
