"""WebSocket routes (live page updates). Pages add their consumers here."""
websocket_urlpatterns: list = []
