"""Typed, frozen settings: defaults < YAML file < ``AUTHGATE_*`` environment."""

from authgate.config.loader import load_settings
from authgate.config.secret import Secret
from authgate.config.settings import Settings

__all__ = ["Secret", "Settings", "load_settings"]
