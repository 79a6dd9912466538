"""charging-rules: charging guidelines as code, evaluated by durable_rules, audited end to end."""

__version__ = "0.1.0"
