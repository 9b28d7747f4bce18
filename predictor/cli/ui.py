"""The ``ui`` command: the MLflow UI on 127.0.0.1, stopped with its whole process group."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time

from predictor.cli.common import raise_terminated
from predictor.config.store import resolve_tracking_uri


def cmd_ui(args: argparse.Namespace) -> int:
    uri = resolve_tracking_uri(args.tracking_uri)
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
    print(f"MLflow UI on http://127.0.0.1:{args.port} (store {uri}); Ctrl-C to stop", flush=True)
    # The server runs in a process group of its own (mlflow server starts uvicorn as its child), so
    # that stopping `predictor ui` by Ctrl-C, SIGTERM or SIGHUP stops the whole group: a signal sent
    # to this process alone (a process manager, a closed session) would otherwise leave uvicorn
    # serving the port.
    server = subprocess.Popen(cmd, env=env, start_new_session=True)
    previous = (
        signal.signal(signal.SIGHUP, raise_terminated)
        if threading.current_thread() is threading.main_thread()
        else None
    )
    try:
        return server.wait()
    except KeyboardInterrupt:  # Ctrl-C; SIGTERM and SIGHUP arrive as Terminated
        stop_group(server)
        return 0
    finally:
        if previous is not None:
            signal.signal(signal.SIGHUP, previous)


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
