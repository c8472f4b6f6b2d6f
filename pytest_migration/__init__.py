"""Run and verify a database migration as a pytest session."""

__version__ = "0.1.0"
