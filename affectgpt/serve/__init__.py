"""The HTTP API, the OpenAI-compatible endpoint and the web page (``pip install 'affectgpt[serve]'``)."""

from affectgpt.serve.app import ServeConfig, check_bind, create_app, sniff_media

__all__ = ["ServeConfig", "create_app", "check_bind", "check_port", "sniff_media", "serve"]


def serve(host: str = "127.0.0.1", port: int = 8000, config: ServeConfig | None = None) -> None:
    """Run the app on uvicorn until interrupted (refuses a non-loopback host without a token)."""
    import uvicorn

    config = config or ServeConfig()
    check_bind(host, config.token)
    check_port(host, port)
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning")


def check_port(host: str, port: int) -> None:
    """Raise :class:`~affectgpt.errors.AffectGPTError` when ``host:port`` cannot be bound (in use)."""
    import socket

    from affectgpt.errors import AffectGPTError

    if not 0 < port < 65536:
        raise AffectGPTError(f"--port {port}: a port is 1-65535")
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as exc:
        raise AffectGPTError(f"cannot serve on {host}:{port}: {exc.strerror or exc} (pick another --port)") from None
