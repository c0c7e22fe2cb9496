"""The web process: the FastAPI app, its ASGI factory and metrics. HTTP only."""
