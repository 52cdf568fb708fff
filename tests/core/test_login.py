import pytest

from tests.factories import make_user


@pytest.fixture
def staff(db):
    return make_user("advisor", username="riley", password="correct-horse-battery")


def attempt(client, password, username="riley"):
    return client.post("/login/", {"username": username, "password": password})


def test_sign_in_works_and_lands_on_home(client, staff):
    response = attempt(client, "correct-horse-battery")
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_wrong_password_shows_an_inline_error(client, staff):
    response = attempt(client, "nope")
    assert response.status_code == 200
    assert "enter a correct username and password" in response.content.decode().lower()


def test_repeated_failures_block_even_the_right_password(client, staff):
    for _ in range(5):
        attempt(client, "guess")
    response = attempt(client, "correct-horse-battery")
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_other_users_are_not_blocked_by_someone_elses_failures(client, staff):
    make_user("manager", username="sam", password="another-good-pass")
    for _ in range(5):
        attempt(client, "guess")
    assert attempt(client, "another-good-pass", username="sam").status_code == 302


def test_login_form_requires_csrf():
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
