"""Thin command-line layer: parse options, call the library, render. No business logic."""
