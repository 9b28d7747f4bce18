"""Helpers shared by the end-to-end tests: servers on 127.0.0.1, and MLflow stores."""

import atexit
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from functools import cache
from pathlib import Path


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
                output = server.stdout.read().decode()[-3000:] if server.stdout else "(its output went to a file)"
                raise RuntimeError(f"the server exited:\n{output}") from None
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")


@cache
def _empty_store() -> Path:
    """An empty SQLite MLflow store, created once per test process by this environment's MLflow."""
    import mlflow

    folder = Path(tempfile.mkdtemp(prefix="empty-store-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)  # gone with the test process
    path = folder / "mlflow.db"
    mlflow.MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()  # creates the tables
    return path


def store(folder: Path) -> str:
    """The URI of an empty MLflow store at ``folder / "mlflow.db"`` (the default store of a
    command run in ``folder``), copied from one created once per test process.

    Creating an SQLite store runs MLflow's schema migrations, about 3 s of MLflow's own work on
    every fresh store. Tests of what the package logs start from this copy; the tests of a first
    run in an empty folder (the README's main job, ``test_train``'s ``trained``) let the command
    create its store."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_empty_store(), folder / "mlflow.db")
    return f"sqlite:///{folder / 'mlflow.db'}"
