"""The engine: guideline conditions compiled into durable_rules (the only module importing it:
durable.py), rule truths combined by hit policy into a Recommendation, and its explanation."""
