"""The rollout's written schema: the record (`record.py`) and its journal events (`events.py`)."""
