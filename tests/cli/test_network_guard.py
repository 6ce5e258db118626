import socket

import pytest

from tests.conftest import NetworkBlocked


def test_outbound_connections_are_refused() -> None:
    with pytest.raises(NetworkBlocked), socket.socket() as s:
        s.connect(("93.184.216.34", 80))


def test_name_resolution_outside_loopback_is_refused() -> None:
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("api.openai.com", 443)


def test_loopback_is_allowed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.socket() as client:
            client.connect(server.getsockname())
            conn, peer = server.accept()
            assert peer == client.getsockname()
            conn.close()
