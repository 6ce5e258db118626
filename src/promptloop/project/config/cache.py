"""``cache:``: where model answers are kept between runs, on disk and in a shared Redis."""

from __future__ import annotations

import os
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_ENV_REFERENCE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


class CacheConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    dir: str = ".promptloop/cache"
    redis_url: str | None = Field(
        default=None,
        description="A Redis cache shared by a team. Write ${env:NAME} to read the URL (and "
        "its password) from the environment variable NAME; unset or empty, there is no "
        "Redis cache, which is what a fork's run, given no secrets, gets.",
    )

    @field_validator("redis_url")
    @classmethod
    def _url_from_environment(cls, value: str | None) -> str | None:
        if value is None or "${" not in value:
            return value
        reference = _ENV_REFERENCE.fullmatch(value.strip())
        if reference is None:
            raise ValueError("write ${env:NAME} alone, to read the whole URL from NAME")
        return os.environ.get(reference.group(1)) or None
