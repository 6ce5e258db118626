"""Model clients. ``base`` holds the seam; providers are imported only when used, and
``litellm_client`` is the only module that imports litellm. Imports only the foundation."""

from promptloop.models.base import (
    Message,
    ModelCallError,
    ModelClient,
    ModelRequest,
    ModelResponse,
    Usage,
)

__all__ = ["Message", "ModelCallError", "ModelClient", "ModelRequest", "ModelResponse", "Usage"]
