"""WebSocket routes (live page updates). Pages add their consumers here."""
from django.urls import path

from dashboard.consumers import RequestTailConsumer

websocket_urlpatterns: list = [
    path("ws/requests/", RequestTailConsumer.as_asgi()),
]
