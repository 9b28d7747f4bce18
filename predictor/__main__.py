import sys

from predictor.cli import main

if __name__ == "__main__":  # a Dask worker process started by spawn imports this module again: it must not run
    sys.exit(main())
