"""What every command shares: exit codes, argument types, progress lines and bars, the run page."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from tqdm.auto import tqdm

EXIT_USER_ERROR = 2


EXIT_TARGET_MISSED = 1


EXIT_TERMINATED = 128 + 15  # SIGTERM, as a shell reports it


EXIT_BROKEN_PIPE = 128 + 13  # SIGPIPE: the reader of stdout went away (``predictor ... | head``)


#: Where ``predictor ui`` serves the MLflow UI by default.
UI_PORT = 5000


def positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def port_arg(text: str) -> int:
    """A TCP port: a whole number within 1..65535."""
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be a port within 1..65535, got {value}")
    return value


def risk_arg(text: str) -> float:
    """A risk threshold: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be within 0 and 1 (a risk), got {value}")
    return value


def seed_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def progress_bar(total: int | None, desc: str, unit: str, enabled: bool) -> Any:

    # delay: nothing is shown for work that finishes within a second.
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=True,
        delay=1.0,
        leave=False,
        disable=not enabled,
        file=sys.stderr,
        dynamic_ncols=True,
    )


class UsageError(Exception):
    pass


def progress_lines(args: argparse.Namespace, start: float):
    """Progress lines on stderr, stamped with the seconds since ``start`` (silent with --quiet)."""

    def say(message: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - start:5.0f} s] {message}", file=sys.stderr, flush=True)

    return say


def clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def print_page(logged, uri: str, given: str | None) -> None:
    if uri.startswith(("http://", "https://")):
        print(f"run page:  {logged.page(uri)}")
    else:  # a local store: the UI is served by `predictor ui`
        serve = "predictor ui" + ("" if given is None else f" --tracking-uri {uri}")
        print(f"run page:  {logged.page(f'http://127.0.0.1:{UI_PORT}')}  (serve the MLflow UI first: {serve})")


class Terminated(KeyboardInterrupt):
    """SIGTERM (a batch scheduler's kill, a closed terminal), raised where the program is, so that
    it unwinds like Ctrl-C: the open MLflow run ends KILLED, temporary files go, nothing registers."""


def raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()
