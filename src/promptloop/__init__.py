"""promptloop: evaluate, critique and improve LLM prompts inside pull requests."""

__version__ = "0.1.0"
