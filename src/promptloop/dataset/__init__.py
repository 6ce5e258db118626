"""Eval cases: reading datasets into cases with stable ids, splits and shards.
Imports only the foundation (errors, yamlpos)."""
