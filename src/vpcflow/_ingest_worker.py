"""Entry point of ingest worker processes: ``python -m vpcflow._ingest_worker FD STAGE ...``."""

import sys

from vpcflow.ingest_workers import worker_main

if __name__ == "__main__":
    worker_main(sys.argv[1:])
