"""The ``ui`` command: the MLflow UI on 127.0.0.1, stopped with its whole process group."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from predictor.cli.common import UsageError, raise_terminated
from predictor.config.store import resolve_tracking_uri


def cmd_ui(args: argparse.Namespace) -> int:
    uri = resolve_tracking_uri(args.tracking_uri)
    if uri.startswith(("http://", "https://")):  # a tracking server serves its own UI
        page = f"{uri.rstrip('/')}/#/experiments?workflowType=machine_learning"
        print(f"the store is an MLflow server, which serves the UI itself: {page}")
        return 0
    _check_port_free(args.port)
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
        "--workers",
        "1",
    ]
    # The server runs in a process group of its own (mlflow server starts uvicorn as its child), so
    # that stopping `predictor ui` by Ctrl-C, SIGTERM or SIGHUP stops the whole group: a signal sent
    # to this process alone (a process manager, a closed session) would otherwise leave uvicorn
    # serving the port.
    server = subprocess.Popen(cmd, env=env, start_new_session=True)
    print(f"starting the MLflow UI on http://127.0.0.1:{args.port} (store {uri}) ...", flush=True)
    previous = (
        signal.signal(signal.SIGHUP, raise_terminated)
        if threading.current_thread() is threading.main_thread()
        else None
    )
    try:
        if not _wait_until_listening(server, args.port):
            stop_group(server)
            raise UsageError(f"the MLflow server did not start (exit status {server.returncode}); its output is above")
        print(f"MLflow UI on http://127.0.0.1:{args.port}; Ctrl-C to stop", flush=True)
        return server.wait()
    except KeyboardInterrupt:  # Ctrl-C; SIGTERM and SIGHUP arrive as Terminated
        stop_group(server)
        return 0
    finally:
        if previous is not None:
            signal.signal(signal.SIGHUP, previous)


def _check_port_free(port: int) -> None:
    """The port must be free on 127.0.0.1: a busy one made the server fail after it had been
    announced as serving."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise UsageError(f"port {port} on 127.0.0.1 is in use ({exc.strerror}); choose another: --port") from None


def _wait_until_listening(server: subprocess.Popen, port: int, seconds: float = 120.0) -> bool:
    """Whether the server accepts connections on ``port`` before it exits (or ``seconds`` pass)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.2)
    return server.poll() is None


def stop_group(server: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM to the server's process group, SIGKILL to what is left of it after ``grace`` s;
    return once every process of the group is gone."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            server.poll()  # reap the leader, or the group never empties
            try:
                os.killpg(server.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
