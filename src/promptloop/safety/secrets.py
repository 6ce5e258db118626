"""One rule for what is secret and how it is masked, used by every file, log and comment.

What is secret: the value of every environment variable litellm reads as a credential
(``credentials.LITELLM_CREDENTIALS``) or whose name says it holds one (``*_API_KEY``,
``*_TOKEN``, ``*_SECRET``, ``*_PASSWORD``, ``*_CREDENTIALS``, ``*APIKEY``…), the password in
any ``scheme://user:password@host`` value (a Redis URL in the config or the environment), and
any text shaped like a credential (``sk-…``, ``AKIA…``, ``ghp_…``, a JWT, a private key, a
long random token), known or not.

How it is masked: a known secret wherever it appears in any letter case, with line breaks or
spaces inside it, and any run of 12 or more of its characters (half a key is still a leak).
Git SHAs, promptloop's hex case ids and ordinary words are never taken for credentials.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache

from promptloop.safety.credentials import LITELLM_CREDENTIALS

MASK = "***"
# Shorter values are too likely to be ordinary words ("true", "admin") to mask everywhere.
MIN_SECRET = 6
# A run this long of a known secret's characters is masked even when the rest is missing.
MIN_RUN = 12
_ANCHOR = MIN_RUN // 2

# The generic names: a credential word as the name's last part.
_SECRET_NAME = re.compile(
    r"""(?:^|[_.-])(?:
        [A-Z0-9]*API[_-]?KEY | ACCESS[_-]KEY | PRIVATE[_-]KEY | SECRET[_-](?:ACCESS[_-])?KEY
      | SECRETS? | TOKEN | PAT | PASS | PASSWD | PASSWORD | PASSPHRASE | CREDENTIALS?
    )$""",
    re.VERBOSE,
)
_URL_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s]*?:([^/?#@\s]+)@", re.ASCII)

# Values shaped like credentials, known or not. Each needs a prefix or a length that
# ordinary prose, hex digests and case ids never have.
_CREDENTIAL_VALUE = re.compile(
    r"""
      -----BEGIN[ A-Z]*PRIVATE[ ]KEY-----[\s\S]*?(?:-----END[ A-Z]*PRIVATE[ ]KEY-----|\Z)
    | (?<![A-Za-z0-9_-])(?:
        sk-(?=[A-Za-z0-9_-]{20})(?=[A-Za-z_-]*[0-9])[A-Za-z0-9_-]+   # OpenAI, Anthropic…
      | (?:AKIA|ASIA)[A-Z0-9]{16}                          # AWS access key ids
      | ABSK[A-Za-z0-9+/]{40,}=*                           # Bedrock API keys
      | gh[pousr]_[A-Za-z0-9]{30,}                         # GitHub tokens
      | github_pat_[A-Za-z0-9_]{30,}
      | glpat-[A-Za-z0-9_-]{20,}
      | xox[abprs]-[A-Za-z0-9-]{10,}                       # Slack
      | AIza[A-Za-z0-9_-]{35}                              # Google API keys
      | hf_[A-Za-z0-9]{30,}                                # Hugging Face
      | eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*   # JWTs
    )(?![A-Za-z0-9_-])
    """,
    re.VERBOSE,
)
# Substrings one of which every credential-shaped value holds: most text holds none of them,
# and a few substring searches cost far less than the pattern above.
_CREDENTIAL_HINTS = (
    "sk-", "AKIA", "ASIA", "ABSK", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_",
    "glpat-", "xox", "AIza", "hf_", "eyJ", "-----BEGIN",
)  # fmt: skip
# A long unbroken run of token characters, taken whole (possessive, started only at a run's
# first character, so a long word costs one attempt); masked when it also looks random.
_TOKEN_RUN = re.compile(r"(?<![A-Za-z0-9_+/=-])(?=[A-Za-z0-9_+/=-]{32})[A-Za-z0-9_+/=-]++")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_SPACE = re.compile(r"\s+")


def is_secret_name(name: str) -> bool:
    """Whether an environment variable called ``name`` holds a credential."""
    upper = name.upper()
    return upper in LITELLM_CREDENTIALS or _SECRET_NAME.search(upper) is not None


def url_password(url: str | None) -> str | None:
    """The password in ``scheme://user:password@host`` (a Redis URL), if it has one."""
    if not url or "@" not in url:
        return None
    credentials = url.partition("://")[2].rsplit("@", 1)[0]
    password = credentials.partition(":")[2] if ":" in credentials else credentials
    return password or None


def _secret_parts(value: str) -> Iterator[str]:
    """A JSON credential (a service-account file in ``VERTEXAI_CREDENTIALS``) is masked by
    its secret fields, so its ordinary ones ("service_account", URLs) stay readable."""
    if value.lstrip().startswith("{"):
        try:
            document = json.loads(value)
        except ValueError:
            document = None
        if isinstance(document, dict):
            leaves = list(_secret_leaves(document))
            if leaves:
                yield from leaves
                return
    yield value


def _secret_leaves(node: object, secret: bool = False) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _secret_leaves(value, secret or is_secret_name(str(key)))
    elif isinstance(node, list):
        for value in node:
            yield from _secret_leaves(value, secret)
    elif secret and isinstance(node, str):
        yield node


def known_secrets(env: Mapping[str, str], *, urls: Iterable[str | None] = ()) -> list[str]:
    """Every value promptloop knows to be secret: credentials in the environment (provider
    keys, the GitHub token), passwords inside URLs there and in the config (``urls``)."""
    found: set[str] = set()
    for name, value in env.items():
        if not value:
            continue
        if is_secret_name(name):
            found.update(_secret_parts(value))
        if _URL_PASSWORD.match(value):
            found.add(url_password(value) or "")
    found.update(p or "" for p in (url_password(u) for u in urls))
    return sorted(s for s in found if len(_SPACE.sub("", s)) >= MIN_SECRET)


def _looks_random(token: str) -> bool:
    """A long run that mixes cases and digits at random, unlike words, paths, identifiers
    and hex digests (which have one letter case)."""
    kinds = [0 if c.isdigit() else 1 if c.isupper() else 2 if c.islower() else 3 for c in token]
    if kinds.count(0) < 1 or kinds.count(1) < 2 or kinds.count(2) < 2:
        return False
    # CamelCase names change kind once a word (a capital after a small letter; a capital
    # then small letters is just a word); random text changes at nearly every other letter.
    changes = sum(a != b and (a, b) != (1, 2) for a, b in itertools.pairwise(kinds))
    changed = changes / (len(kinds) - 1)
    counts = Counter(token)
    entropy = -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())
    return changed >= 0.3 and entropy >= 4.0


class _Masker:
    """Finds known secrets through short anchors: every run of ``MIN_RUN`` characters of a
    secret holds one of its anchors whole, so a plain substring search finds every
    candidate and only those are compared character by character."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self.needles = sorted(
            {n for n in (_SPACE.sub("", s).translate(_ASCII_LOWER) for s in secrets) if n},
            key=len,
            reverse=True,
        )
        self.anchors: dict[str, list[tuple[str, int]]] = {}
        for needle in self.needles:
            # A secret shorter than an anchor (one the caller names outright) is its own.
            size = min(_ANCHOR, len(needle))
            for offset in range(0, len(needle) - size + 1, size):
                anchor = needle[offset : offset + size]
                self.anchors.setdefault(anchor, []).append((needle, offset))

    def spans(self, text: str) -> list[tuple[int, int]]:
        lowered = text.translate(_ASCII_LOWER)
        found: list[tuple[int, int]] = []
        for anchor, places in self.anchors.items():
            at = lowered.find(anchor)
            while at >= 0:
                for needle, offset in places:
                    span = _extend(lowered, at, len(anchor), needle, offset)
                    if span is not None:
                        found.append(span)
                at = lowered.find(anchor, at + 1)
        if any(hint in text for hint in _CREDENTIAL_HINTS):
            found.extend(m.span() for m in _CREDENTIAL_VALUE.finditer(text))
        for match in _TOKEN_RUN.finditer(text):
            if _looks_random(match.group(0)):
                found.append(match.span())
        return found


def _extend(text: str, at: int, size: int, needle: str, offset: int) -> tuple[int, int] | None:
    """The span of ``needle``'s characters around its anchor (``size`` long) at ``text[at]``
    (``offset`` in the needle), across whitespace inside it; None when fewer than a masking
    run match."""
    end, right = _reach(text, at + size, needle, offset + size, 1)
    start, left = _reach(text, at - 1, needle, offset - 1, -1)
    if right - left - 1 >= min(MIN_RUN, len(needle)):
        return start + 1, end
    return None


def _reach(text: str, pos: int, needle: str, index: int, step: int) -> tuple[int, int]:
    """How far ``text`` from ``pos`` goes on matching ``needle`` from ``index`` in direction
    ``step``: the text position and needle index just past the last match. Whitespace is
    crossed only when at least four more characters (or the rest of the needle) match after
    it, so a key cut short does not swallow the next word's first letter."""
    last_pos, last_index = pos, index
    while 0 <= index < len(needle) and 0 <= pos < len(text):
        if text[pos] == needle[index]:
            pos += step
            index += step
            last_pos, last_index = pos, index
            continue
        if not text[pos].isspace():
            break
        while 0 <= pos < len(text) and text[pos].isspace():
            pos += step
        run = 0
        while (
            0 <= index + run * step < len(needle)
            and 0 <= pos + run * step < len(text)
            and text[pos + run * step] == needle[index + run * step]
        ):
            run += 1
        left_in_needle = len(needle) - index if step > 0 else index + 1
        if run < min(4, left_in_needle):
            break
    return last_pos, last_index


@lru_cache(maxsize=32)
def _masker(secrets: tuple[str, ...]) -> _Masker:
    return _Masker(secrets)


def secret_spans(text: str, secrets: Iterable[str | None]) -> list[tuple[int, int]]:
    """Where ``text`` holds a secret, as (start, end) offsets, overlapping ones merged."""
    listed = tuple(sorted({s for s in secrets if s}))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(_masker(listed).spans(text)):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def mask_secrets(text: str, secrets: Iterable[str | None], mask: str = MASK) -> str:
    """``text`` with every known secret, every run of 12+ of its characters (in any case,
    across line breaks) and every credential-shaped value replaced by ``mask``."""
    spans = secret_spans(text, secrets)
    if not spans:
        return text
    parts: list[str] = []
    last = 0
    for start, end in spans:
        parts += [text[last:start], mask]
        last = end
    parts.append(text[last:])
    return "".join(parts)
