"""Helpers shared by the end-to-end tests that start servers on 127.0.0.1."""

import socket
import subprocess
import time
import urllib.request


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen, seconds: float) -> None:
    """Poll ``url`` until it answers 200; raise with the server's output if it dies or times out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(url, timeout=1).status == 200:
                return
        except OSError:
            if server.poll() is not None:
                raise RuntimeError(f"the server exited:\n{server.stdout.read().decode()[-3000:]}") from None
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")
