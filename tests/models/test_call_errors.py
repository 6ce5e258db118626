"""A connection error names the server it tried, and only what is safe to name."""

from __future__ import annotations

import pytest

from promptloop.models.call_errors import unreachable


def test_the_server_is_named_by_scheme_host_and_port_only() -> None:
    error = unreachable("https://user:hunter2@llm.example:8443/v1?key=abc")
    assert str(error) == "Connection error (https://llm.example:8443)"
    assert error.kind == "connection"


@pytest.mark.parametrize(
    "url", ["http://host:abc/v1", "http://[::1/v1", "http://h:99999", "not a url", ""]
)
def test_a_base_url_that_names_no_server_still_gives_the_error(url: str) -> None:
    # Said while handling a failed call: it must not fail in turn.
    error = unreachable(url)
    assert str(error) == "Connection error." and error.kind == "connection"
