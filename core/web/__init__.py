"""The HTTP side: one ASGI app with the channels' webhooks, the REST API and the console."""
