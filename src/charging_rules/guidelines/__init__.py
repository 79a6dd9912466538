"""Guideline language: YAML files -> validated, hashed guideline sets."""
