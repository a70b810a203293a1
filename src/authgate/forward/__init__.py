"""The per-request check: proxy request -> ForwardRequest -> app -> session -> Decision."""
