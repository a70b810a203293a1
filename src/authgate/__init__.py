"""authgate: forward-auth single sign-on for the reverse proxy in front of your apps."""

__version__ = "0.1.0"
