"""The backend against cliquet's storage contract: its conformance suite, then its signatures.

Keep this file green when the real client replaces ``FakeClient``: point ``SETTINGS`` at a
server for tests, and the suite does the rest.
"""

import inspect
from collections.abc import Iterator

import pytest
from cliquet.storage import StorageBase, StorageError
from cliquet.testing.storage import StorageTest
from pyramid.config import Configurator

from {{ cookiecutter.package_name }} import storage as backend

SETTINGS = {"cliquet.storage_url": "{{ cookiecutter.__slug }}://localhost:8087"}
# The abstract methods, and the contract's others that the backend implements (list_all...).
CONTRACT = sorted(
    name
    for name in StorageBase.__abstractmethods__ | set(vars(backend.Storage))
    if not name.startswith("_") and callable(getattr(StorageBase, name, None))
)


def make_storage() -> backend.Storage:
    return backend.load_from_config(Configurator(settings=SETTINGS))


class TestStorage(StorageTest):
    @pytest.fixture
    def storage(self) -> Iterator[backend.Storage]:
        storage = make_storage()
        storage.initialize_schema()
        storage.flush()
        yield storage
        storage.flush()


def test_load_from_config_reads_the_url() -> None:
    client = make_storage()._client
    assert (client.host, client.port) == ("localhost", 8087)


def test_client_failures_are_storage_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    storage = make_storage()

    def refuse(*args: object, **kwargs: object) -> None:
        raise ConnectionError("refused")

    monkeypatch.setattr(storage._client, "items", refuse)
    with pytest.raises(StorageError):
        storage.list_all("articles", "alice")
    assert storage.heartbeat() is False


# The contract is the runtime's: every method is there, with its signature and its docstring.


def test_backend_implements_the_whole_contract() -> None:
    assert not inspect.isabstract(backend.Storage)
    assert isinstance(make_storage(), StorageBase)


@pytest.mark.parametrize("name", CONTRACT)
def test_signature_is_the_contract_one(name: str) -> None:
    ours = inspect.signature(getattr(backend.Storage, name), eval_str=True)
    assert ours == inspect.signature(getattr(StorageBase, name), eval_str=True)


@pytest.mark.parametrize("name", CONTRACT)
def test_documentation_is_the_contract_one(name: str) -> None:
    ours = inspect.getdoc(getattr(backend.Storage, name))
    assert ours == inspect.getdoc(getattr(StorageBase, name))
