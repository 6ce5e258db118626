"""Test-wide rules: no test reaches the internet, and litellm never downloads its price list."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
# Provider keys on a developer's machine must not change which model tests pick.
for _key in [k for k in os.environ if k.endswith("_API_KEY")]:
    del os.environ[_key]

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _is_loopback(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX paths are local by definition
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class NetworkBlocked(RuntimeError):
    pass


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if not _is_loopback(address):
        raise NetworkBlocked(f"tests may only connect to loopback, not {address!r}")
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if not _is_loopback(address):
        raise NetworkBlocked(f"tests may only connect to loopback, not {address!r}")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else host
    if name not in (None, "localhost") and not _is_loopback((name, 0)):
        raise NetworkBlocked(f"tests may not resolve {name!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def _block_network() -> Iterator[None]:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _real_getaddrinfo


@pytest.fixture
def serve() -> Iterator[Any]:
    """Start stub OpenAI-compatible servers on loopback: ``server, base_url = serve(**config)``."""
    from tests.support import load_stub

    stub = load_stub()
    servers: list[Any] = []

    def start(**config: Any) -> tuple[Any, str]:
        server = stub.StubServer(stub.StubConfig(**config))
        servers.append(server)
        return server, server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def stub(serve: Any) -> Any:
    """One stub server on loopback that records the bodies it is sent (a test file may define
    its own ``stub`` with other rules)."""
    server, _ = serve(record_bodies=True)
    return server


@pytest.fixture
def clean_scripts() -> Iterator[None]:
    """Scripted models registered by a test do not leak into the next one."""
    from promptloop.models.scripted import clear_scripts

    clear_scripts()
    yield
    clear_scripts()
