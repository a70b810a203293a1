"""What authgate keeps in Redis when ``AUTHGATE_REDIS_URL`` is set: the login counters."""
