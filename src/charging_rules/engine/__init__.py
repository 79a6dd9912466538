"""Evaluation: guideline conditions compiled into durable_rules, combined by hit policy."""
