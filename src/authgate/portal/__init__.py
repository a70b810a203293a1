"""The login portal on ``AUTHGATE_PUBLIC_URL``: login, account, authorize, logout, deny."""
