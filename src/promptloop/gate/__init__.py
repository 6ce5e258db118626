"""Deciding the merge: pairing base and head, statistics, confirmation runs, the gate policy
and the verdicts. May import engine and everything below it."""
