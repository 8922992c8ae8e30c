"""A real uvicorn server running the app on loopback, for the serve tests."""

from __future__ import annotations

import socket
import threading
import time

import httpx

from affectgpt.serve import ServeConfig, create_app


class RunningServer:
    """The real app on 127.0.0.1 (a free port) in a daemon thread."""

    def __init__(self, cfg: ServeConfig):
        import uvicorn

        self.config = cfg
        self.app = create_app(cfg)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            if not self.thread.is_alive():
                raise RuntimeError("the server thread exited before starting")
            time.sleep(0.05)
        assert self.server.started, "uvicorn did not start within 30 s"
        self.url = f"http://127.0.0.1:{port}"
        self.client = httpx.Client(base_url=self.url, timeout=300, trust_env=False)

    def temp_entries(self) -> list:
        """What the app's temporary folder holds now (empty between requests)."""
        return list(self.app.state.temp_root.iterdir())

    def close(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(15)
