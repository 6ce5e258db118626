"""Model clients. ``base`` holds the seam; providers are imported only when used."""

from promptloop.models.base import (
    Message,
    ModelCallError,
    ModelClient,
    ModelRequest,
    ModelResponse,
    Usage,
)

__all__ = ["Message", "ModelCallError", "ModelClient", "ModelRequest", "ModelResponse", "Usage"]
