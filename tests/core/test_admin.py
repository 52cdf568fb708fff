"""The API-key admin: scopes are validated in the form, and a new key is shown once."""

import pytest
from django.contrib.auth.models import User

from servicebay.core.models import ApiKey, hash_secret

pytestmark = pytest.mark.django_db
ADD = "/admin/core/apikey/add/"


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("boss", password="pw-for-tests-1"))
    return client


def test_add_form_offers_every_scope_as_a_checkbox(admin_client):
    html = admin_client.get(ADD).content.decode()
    for scope in ("read", "write", "catalog"):
        assert f'value="{scope}"' in html


@pytest.mark.parametrize(
    ("data", "field"),
    [({"name": "Feed", "scopes": ["root"]}, "scopes"), ({"name": "Feed"}, "scopes"),
     ({"name": "   ", "scopes": ["read"]}, "name")],
)
def test_bad_input_is_an_inline_error_not_a_server_error(admin_client, data, field):
    response = admin_client.post(ADD, data)
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not ApiKey.objects.exists()


def test_adding_a_key_shows_it_once_and_stores_only_its_hash(admin_client):
    response = admin_client.post(ADD, {"name": "Feed", "scopes": ["write", "read"]}, follow=True)
    assert response.status_code == 200
    key = ApiKey.objects.get()
    shown = [str(m) for m in response.context["messages"] if "will not be shown again" in str(m)]
    assert len(shown) == 1
    plaintext = shown[0].rsplit(" ", 1)[-1]
    assert key.key_hash == hash_secret(plaintext)
    assert (key.scopes, key.created_by.username) == (["read", "write"], "boss")
    assert admin_client.get(f"/admin/core/apikey/{key.pk}/change/").status_code == 200


def test_changing_scopes_validates_them_too(admin_client):
    admin_client.post(ADD, {"name": "Feed", "scopes": ["read"]})
    key = ApiKey.objects.get()
    url = f"/admin/core/apikey/{key.pk}/change/"
    assert admin_client.post(url, {"name": "Feed", "scopes": ["nope"]}).status_code == 200
    admin_client.post(url, {"name": "Feed", "scopes": ["catalog"]})
    key.refresh_from_db()
    assert key.scopes == ["catalog"]


def test_revoke_action_revokes_the_selected_keys(admin_client):
    admin_client.post(ADD, {"name": "Feed", "scopes": ["read"]})
    key = ApiKey.objects.get()
    admin_client.post("/admin/core/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None
