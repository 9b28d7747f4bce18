"""Independent jobs on ``dask.distributed``: the only module of the package that talks to Dask.

A study (:mod:`predictor.study`) hands over jobs that each take one shared input (a scenario
variant's validation cohort, built once on the cluster as a task of its own) and gets their
results back as they finish. By default the jobs run on a :class:`~distributed.LocalCluster` of
one single-threaded worker process per core; ``scheduler`` (an address, or a scheduler file)
points them at an existing cluster. Results come back to the driver, which alone writes files
and MLflow runs.

A worker that dies mid-job loses nothing for good: Dask's scheduler runs its jobs again on
another worker, and the shared inputs are tasks (not scattered data), so they are rebuilt where
needed. Jobs are seeded by their keys, so a rerun gives the same result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from predictor.errors import StudyError

__all__ = ["ClusterSpec", "Job", "Connection", "connect", "probe", "scheduler_address"]


@dataclass(frozen=True)
class ClusterSpec:
    """Where jobs run: ``scheduler`` (a ``tcp://host:port`` address or a scheduler file; None:
    a LocalCluster of ``workers`` processes, default one per core), and how long to wait for a
    scheduler to answer (``timeout``, seconds)."""

    scheduler: str | None = None
    workers: int | None = None
    timeout: float = 10.0


def scheduler_address(given: str | None) -> tuple[str | None, str]:
    """The scheduler a study uses, and where that choice came from: ``given`` (``--scheduler``),
    else Dask's own configuration (``scheduler-address``, which the environment variable
    ``DASK_SCHEDULER_ADDRESS`` sets), else none: a LocalCluster."""
    if given:
        return given, "--scheduler"
    import dask.config  # lazy: only a study needs Dask (CLI start-up)

    configured = dask.config.get("scheduler-address", None)
    if configured:
        return str(configured), "Dask's config (DASK_SCHEDULER_ADDRESS or scheduler-address)"
    return None, "no scheduler given: a LocalCluster on this machine"


@dataclass(frozen=True)
class Job:
    """``fn(shared_value)`` under a unique ``key``, where ``shared`` names its shared input."""

    key: str
    shared: str
    fn: Callable[[Any], Any]


class Connection:
    """A client on a cluster (:func:`connect`)."""

    def __init__(self, client, workers: int, dashboard: str | None, local: bool):
        self.client = client
        self.workers = workers
        self.dashboard = dashboard
        self.local = local

    def run(self, shared: Mapping[str, Callable[[], Any]], jobs: Sequence[Job]) -> Iterator[tuple[str, Any]]:
        """Run ``jobs``, each on its shared input (``shared``: unique key -> a function that
        builds it); yield ``(key, result)`` as each finishes, ``result`` an exception where
        the job could not be run (a worker lost too often, a result that cannot travel)."""
        from distributed import as_completed  # lazy: only a study needs Dask (CLI start-up)

        inputs = {
            name: self.client.submit(make, key=name, pure=False)
            for name, make in shared.items()
            if any(j.shared == name for j in jobs)
        }
        futures = {self.client.submit(_call, j.fn, inputs[j.shared], key=j.key, pure=False): j.key for j in jobs}
        try:
            for future in as_completed(futures):
                key = futures[future]
                if future.status == "finished":
                    yield key, future.result()
                else:
                    yield key, future.exception()
                future.release()
        finally:
            for f in [*futures, *inputs.values()]:
                f.cancel()


def _call(fn: Callable[[Any], Any], value: Any) -> Any:
    return fn(value)


@contextmanager
def connect(spec: ClusterSpec) -> Iterator[Connection]:
    """A client on the cluster ``spec`` describes, closed (with a LocalCluster it started) on exit.

    Raises
    ------
    StudyError
        No scheduler answers at the address, or the scheduler file cannot be read, within
        ``spec.timeout`` seconds.
    """
    from distributed import Client, LocalCluster  # lazy: only a study needs Dask (CLI start-up)

    if spec.scheduler is None:
        # n_workers None: LocalCluster's own count, one single-threaded process per core this process may use
        cluster = LocalCluster(
            n_workers=spec.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            # The study reports what matters itself (a cell's failure, a lost worker); Dask's own
            # ERROR lines are shutdown noise, e.g. a worker still in a cell when a terminated
            # study closes the cluster logs "Failed to communicate with scheduler during
            # heartbeat" with a traceback (seen once in the SIGTERM test's stderr).
            silence_logs=logging.CRITICAL,
        )
        client = Client(cluster)
        try:
            yield Connection(client, len(cluster.workers), _dashboard(client), local=True)
        finally:
            client.close()
            cluster.close()
        return
    client = _remote(spec)
    try:
        workers = len(client.scheduler_info().get("workers", {}))
        if workers == 0:
            try:
                client.wait_for_workers(1, timeout=spec.timeout)
            except TimeoutError:
                raise StudyError(
                    f"the Dask scheduler at {spec.scheduler} has no worker (waited {spec.timeout:g} s)"
                ) from None
            workers = len(client.scheduler_info().get("workers", {}))
        yield Connection(client, workers, _dashboard(client), local=False)
    finally:
        client.close()


def probe(spec: ClusterSpec) -> None:
    """Check that the scheduler of ``spec`` answers and has a worker (nothing to check for a
    LocalCluster): a study calls this before it opens its MLflow run or runs a cell.

    Raises
    ------
    StudyError
        As :func:`connect`.
    """
    if spec.scheduler is not None:
        with connect(spec):
            pass


def _remote(spec: ClusterSpec):
    from distributed import Client  # lazy: only a study needs Dask (CLI start-up)

    where = spec.scheduler
    if where is None:
        raise ValueError("a remote cluster needs a scheduler address")
    as_file = Path(where).exists() or where.endswith(".json")
    try:
        if as_file:
            return Client(scheduler_file=where, timeout=spec.timeout)
        return Client(where, timeout=spec.timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        what = f"scheduler file {where}" if as_file else f"Dask scheduler at {where}"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StudyError(f"no answer from the {what} within {spec.timeout:g} s ({reason})") from None


def _dashboard(client) -> str | None:
    """The dashboard's address, where one runs (it needs bokeh)."""
    try:
        return client.dashboard_link if "dashboard" in client.scheduler_info().get("services", {}) else None
    except Exception:  # noqa: BLE001 - a dashboard is a convenience
        return None
