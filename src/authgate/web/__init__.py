"""The ASGI application: hot path dispatch, portal, flow, lifespan and background sync."""
