"""Users, groups and passwords as use cases with no HTTP in them."""
