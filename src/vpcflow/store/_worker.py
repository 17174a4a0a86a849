"""Entry point of ingest worker processes: ``python -m vpcflow.store._worker FD STAGE ...``."""

import sys

from vpcflow.store.workers import worker_main

if __name__ == "__main__":
    worker_main(sys.argv[1:])
