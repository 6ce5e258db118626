"""promptfoo configs (promptfooconfig.yaml), read natively.

``read`` translates the file into promptloop's ``Config`` plus a ``ConfigSource`` holding
the prompts (``prompts``, written in place through ``hosts``), the providers' models
(``providers``), and the tests as cases carrying their own assertions (``tests`` expands
them, ``checks`` builds their evaluators). Everything after loading is promptloop's own.
"""

from promptloop.project.promptfoo.read import PromptfooSource, is_promptfoo_config, read_promptfoo

__all__ = ["PromptfooSource", "is_promptfoo_config", "read_promptfoo"]
