"""A real HTTP AWS endpoint for tests: moto's server on 127.0.0.1 with a free port.

Tests reach it only through ``AWS_ENDPOINT_URL``, exactly as a user would point vpcflow at an
S3-compatible store, so the code under test runs its real boto3 paths.
"""

from __future__ import annotations

import urllib.request


class MotoEndpoint:
    """A running ``moto.server.ThreadedMotoServer``; ``url`` is ``http://127.0.0.1:PORT``."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"

    def reset(self) -> None:
        """Forget every bucket, log group, role and flow log (moto's reset API)."""
        req = urllib.request.Request(f"{self.url}/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()

    def stop(self) -> None:
        self._server.stop()

    def env(self) -> dict[str, str]:
        """Environment that points boto3 at this server with throw-away credentials."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
