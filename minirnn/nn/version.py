"""The package version, written into every model and checkpoint file."""

__version__ = "0.1.0"
