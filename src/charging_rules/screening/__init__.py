"""Screening: a referral through the guidelines and the engine into the audit log, one at a
time (`screen`), from a file (`batch`) or from a folder a prosecutor works through (`intake`)."""
