"""Entry point of ingest worker processes: ``python -m vpcflow.store._worker FD STAGE ...``."""

import signal
import sys

# The parent handles Ctrl-C and stops its workers; a worker never prints a traceback for it.
signal.signal(signal.SIGINT, signal.SIG_IGN)

from vpcflow.store.workers import worker_main  # noqa: E402

if __name__ == "__main__":
    worker_main(sys.argv[1:])
