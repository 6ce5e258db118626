"""Every kind of credential promptloop must never write, the ways a model echoes one, and a
check that reads bytes for any run of 12 of its characters in any case, across line breaks
and the escapes JSON, XML and workflow commands use for them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

# Lower-case letters and digits: nothing shapes them like a credential, so only the rule
# for known secrets (the variable's name) can mask them.
PRIVATE_KEY = "vertexprivatekey7q3w9e1r5t2y8u4i6o0p"
CREDENTIALS = {
    "OPENAI_API_KEY": "sk-openaikey4h7j2k9l3m5n8b1v6c0x",
    "AWS_BEARER_TOKEN_BEDROCK": "bedrockbearer9z8y7x6w5v4u3t2s1r0q",
    "WATSONX_APIKEY": "watsonxapikey2p4o6i8u0y1t3r5e7w9q",
    "VERTEXAI_CREDENTIALS": json.dumps({"type": "service_account", "private_key": PRIVATE_KEY}),
    "GIGACHAT_CREDENTIALS": "gigachatcreds5a1s2d3f4g6h7j8k9l0z",
    "AIMLAPI_KEY": "aimlapikey3m1n4b1v5c9x2z6l5k3j5h8",
    "COMETAPI_KEY": "cometapikey9g7f5d3s1a2q4w6e8r0t1y",
    "DATABASE_PASSWORD": "databasepassword6u5i4o3p2a1s9d8f",
    "CACHE_URL": "redis://default:redispassword1q2w3e4r5t6y7u@cache:6379/0",
}
SECRETS = [
    PRIVATE_KEY if name == "VERTEXAI_CREDENTIALS" else value for name, value in CREDENTIALS.items()
]
SECRETS[-1] = "redispassword1q2w3e4r5t6y7u"


def echoes(secret: str) -> list[str]:
    """The secret whole, upper-cased, split over two lines, and each half alone."""
    half = len(secret) // 2
    return [
        secret,
        secret.upper(),
        f"{secret[:half]}\n{secret[half:]}",
        secret[:half],
        secret[half:],
    ]


def echo_text() -> str:
    """A model answer that echoes every credential every way."""
    return "\n".join(f"leak {n}: {e} ." for n, s in enumerate(SECRETS) for e in echoes(s))


_BREAKS = re.compile(r"\s|\\[nrt]|&#1[03];|&#x[aAdD];|%0[aAdD]")


def leaks(data: bytes) -> list[str]:
    """Each secret of which some run of 12 characters appears in ``data``."""
    text = _BREAKS.sub("", data.decode("utf-8", "replace")).lower()
    return [
        secret
        for secret in SECRETS
        if any(secret[i : i + 12].lower() in text for i in range(len(secret) - 11))
    ]


def assert_nothing_leaks(named: Iterable[tuple[str, bytes]]) -> int:
    """Reads every (name, bytes); returns how many it read."""
    count = 0
    for name, data in named:
        assert leaks(data) == [], name
        count += 1
    return count


def files_under(root: Path, *, skip: Iterable[Path] = ()) -> list[tuple[str, bytes]]:
    skipped = set(skip)
    return [
        (str(p.relative_to(root)), p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file() and p not in skipped and ".git" not in p.relative_to(root).parts
    ]
