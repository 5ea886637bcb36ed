import base64

import pytest

from spanlens.core import apikeys, crypto, services
from spanlens.core.models import ApiKey, ProviderKey


def test_provider_keys_are_stored_encrypted_and_decrypt_back(project):
    key = services.add_provider_key(project, "openai", "sk-proj-supersecretvalue1234")
    stored = ProviderKey.objects.get(pk=key.pk)
    assert "supersecret" not in stored.encrypted_secret
    assert crypto.decrypt(stored.encrypted_secret) == "sk-proj-supersecretvalue1234"
    assert stored.secret_hint == "1234"


def test_each_encryption_uses_a_fresh_nonce():
    assert crypto.encrypt("same") != crypto.encrypt("same")


def test_a_key_of_the_wrong_length_is_refused_with_the_fix():
    with pytest.raises(crypto.EncryptionKeyError, match="exactly 32"):
        crypto.decode_key(base64.b64encode(b"short").decode())
    with pytest.raises(crypto.EncryptionKeyError, match="base64"):
        crypto.decode_key("not base64 !!")


def test_api_keys_keep_only_a_hash_and_a_prefix(project):
    created = services.create_api_key(project, "ci")
    assert created.raw_key.startswith("sl_live_")
    row = ApiKey.objects.get(pk=created.api_key.pk)
    assert row.key_hash == apikeys.hash_key(created.raw_key)
    assert created.raw_key not in (row.prefix, row.key_hash)
    assert created.raw_key.startswith(row.prefix)


def test_empty_or_unknown_provider_keys_are_refused(project):
    with pytest.raises(ValueError, match="empty"):
        services.add_provider_key(project, "openai", "   ")
    with pytest.raises(ValueError, match="provider must be one of"):
        services.add_provider_key(project, "cohere", "abc")
