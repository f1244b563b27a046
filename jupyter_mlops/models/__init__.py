"""Registered models: logging from notebooks, versions and aliases, the promotion gate,
model cards (see ``docs/governance.md``)."""
