"""The ``predictor`` command line: the only part of the package that parses arguments and prints.

User errors (bad input, unknown scenario, unwritable path) print one line to stderr and exit
with status 2, without a traceback; nothing half-written is left behind. The commands live by
what they work on: :mod:`~predictor.cli.data` (scenarios, generate, calibrate),
:mod:`~predictor.cli.models` (train, predict, evaluate), :mod:`~predictor.cli.study` and
:mod:`~predictor.cli.ui`; :mod:`~predictor.cli.parser` declares their arguments.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from features.errors import FeaturesError
from predictor.cli.common import (
    EXIT_BROKEN_PIPE,
    EXIT_TERMINATED,
    EXIT_USER_ERROR,
    Terminated,
    UsageError,
    raise_terminated,
)
from predictor.cli.parser import build_parser
from predictor.errors import PredictorError
from synthetic.errors import SyntheticError

__all__ = ["main", "build_parser"]


def user_errors() -> tuple[type[BaseException], ...]:
    """The errors a user can cause: one line and exit status 2, no traceback."""
    return (FeaturesError, SyntheticError, PredictorError, UsageError)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``predictor`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = terminate_as_interrupt()
    try:
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # here, so that a closed pipe is the BrokenPipeError below, not one at exit
        return status
    except BrokenPipeError:
        # Python's documented way (the signal module's "Note on SIGPIPE"): what is still buffered
        # goes to devnull, so that the interpreter's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except user_errors() as exc:
        print(f"predictor: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Terminated:
        print(
            "predictor: terminated (SIGTERM); the MLflow run, if one was open, is marked KILLED and nothing was "
            "registered",
            file=sys.stderr,
        )
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("predictor: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def terminate_as_interrupt() -> Any:
    """Turn SIGTERM into :class:`Terminated` (main thread only); return the handler it replaced."""

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, raise_terminated)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
