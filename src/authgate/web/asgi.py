"""Entry point for ASGI servers (granian, uvicorn): ``authgate.web.asgi:app_from_environment``.

Worker processes build their settings from the environment that ``authgate serve`` prepared.
"""

from __future__ import annotations

import os

from authgate.config import load_settings
from authgate.web.app import AuthgateApp, create_app
from authgate.web.logging import configure_logging


def app_from_environment() -> AuthgateApp:
    settings = load_settings(os.environ, require_public_url=True)
    configure_logging(settings.log_level)
    return create_app(settings)
