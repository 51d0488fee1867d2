"""The HTTP API: ``create_app`` (app.py) builds it, ``serve`` (server.py) runs it under uvicorn."""
