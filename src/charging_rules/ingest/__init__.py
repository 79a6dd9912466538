"""Turning exports into raw rows: streaming readers and export mappings."""
