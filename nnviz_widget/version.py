"""The package version (here, not in ``__init__``, so that any module can read it)."""

__version__ = "0.1.0"
