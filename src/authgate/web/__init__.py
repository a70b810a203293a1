"""What the portal, the flow and the server share: the runtime, pages, the audit queue, the
sync with the store, request reading and logging. Imports neither ``flow`` nor ``portal``."""
