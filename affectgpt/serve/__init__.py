"""The HTTP API, the OpenAI-compatible endpoint and the web page (``pip install 'affectgpt[serve]'``)."""

from affectgpt.serve.app import ServeConfig, check_bind, create_app, sniff_media

__all__ = ["ServeConfig", "create_app", "check_bind", "sniff_media", "serve"]


def serve(host: str = "127.0.0.1", port: int = 8000, config: ServeConfig | None = None) -> None:
    """Run the app on uvicorn until interrupted (refuses a non-loopback host without a token)."""
    import uvicorn

    config = config or ServeConfig()
    check_bind(host, config.token)
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning")
