"""``vpcflow spark-job``: what a cluster needs to run the Spark ingest, and the command to submit it.

The package is vpcflow itself as a zip for ``--py-files`` plus a small driver script that runs
``vpcflow ingest --engine spark`` with the job's arguments. vpcflow's own dependencies (pyarrow,
numpy, isal, boto3, sqlglot, click, rich, duckdb) must be on the cluster's Python: each platform
has its way, printed with the command (EMR bootstrap action, Glue ``--additional-python-modules``,
Dataproc initialisation action or image, a container image on Kubernetes).
"""

from __future__ import annotations

import shlex
import zipfile
from pathlib import Path

from .. import __version__

__all__ = ["PLATFORMS", "package", "submit_command"]

DEPENDENCIES = "pyarrow numpy isal boto3 sqlglot click rich duckdb"

PLATFORMS = {
    "standalone": "spark-submit on any Spark 4.1+ cluster (--master spark://HOST:7077 or yarn)",
    "emr": "Amazon EMR 7+ step (spark-submit --deploy-mode cluster on YARN)",
    "glue": "AWS Glue 5 Spark job (script and --extra-py-files on S3)",
    "dataproc": "Google Cloud Dataproc job (gcloud dataproc jobs submit pyspark)",
    "k8s": "Spark on Kubernetes (spark-submit --master k8s://..., image with vpcflow installed)",
}

_DRIVER = '''"""vpcflow Spark ingest driver: runs `vpcflow ingest --engine spark` with this job's arguments."""
import sys

from vpcflow.cli import main

main(["ingest", *sys.argv[1:], "--engine", "spark", "--json"])
'''


def package(out_dir: str | Path) -> dict[str, Path]:
    """Write ``vpcflow-<version>.zip`` (the package) and ``vpcflow_spark_job.py`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(__file__).resolve().parent.parent  # the vpcflow package directory
    archive = out / f"vpcflow-{__version__}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(root.rglob("*")):
            if (
                p.is_file()
                and "__pycache__" not in p.parts
                and p.suffix not in (".so", ".c", ".pyc")
            ):
                zf.write(p, Path("vpcflow") / p.relative_to(root))
    driver = out / "vpcflow_spark_job.py"
    driver.write_text(_DRIVER, encoding="utf-8")
    return {"package": archive, "driver": driver}


def submit_command(
    platform: str,
    files: dict[str, Path],
    sources: list[str],
    store: str,
    master: str | None = None,
    conf: dict[str, str] | None = None,
) -> str:
    """The command (and its one-time setup) that runs the ingest on ``platform``."""
    args = [*sources, "--store", store]
    confs = [x for k, v in (conf or {}).items() for x in ("--conf", f"{k}={v}")]
    pkg, drv = str(files["package"]), str(files["driver"])
    q = shlex.join
    if platform == "emr":
        return (
            f"# bootstrap action on every node: sudo python3 -m pip install {DEPENDENCIES}\n"
            "# copy the two files to S3, then add a step:\n"
            "aws emr add-steps --cluster-id j-XXXXXXXX --steps "
            + shlex.quote(
                "Type=Spark,Name=vpcflow-ingest,ActionOnFailure=CONTINUE,Args=["
                + ",".join(
                    ["--deploy-mode", "cluster", "--py-files", f"s3://BUCKET/{Path(pkg).name}"]
                    + confs
                    + [f"s3://BUCKET/{Path(drv).name}", *args]
                )
                + "]"
            )
        )
    if platform == "glue":
        return (
            "# copy the two files to S3, then create the job once:\n"
            "aws glue create-job --name vpcflow-ingest --role GLUE_ROLE --glue-version 5.0 "
            f"--command Name=glueetl,ScriptLocation=s3://BUCKET/{Path(drv).name},PythonVersion=3 "
            + shlex.quote(
                "--default-arguments="
                + '{"--extra-py-files":"s3://BUCKET/'
                + Path(pkg).name
                + '","--additional-python-modules":"'
                + ",".join(DEPENDENCIES.split())
                + '"}'
            )
            + "\n# Glue passes job arguments as --key value pairs; run the driver with the ingest's:\n"
            "# aws glue start-job-run --job-name vpcflow-ingest (store and sources in the script)"
        )
    if platform == "dataproc":
        return f"# image or initialisation action: pip install {DEPENDENCIES}\n" + q(
            ["gcloud", "dataproc", "jobs", "submit", "pyspark", drv]
            + ["--cluster", "CLUSTER", "--region", "REGION", "--py-files", pkg]
            + [f"--properties={k}={v}" for k, v in (conf or {}).items()]
            + ["--", *args]
        )
    if platform == "k8s":
        return (
            "# container image: a Spark 4.1+ Python image with `pip install vpcflow[aws] pyspark`\n"
            + q(
                ["spark-submit", "--master", master or "k8s://https://KUBERNETES_API:443"]
                + ["--deploy-mode", "cluster", "--conf", "spark.kubernetes.container.image=IMAGE"]
                + ["--py-files", pkg, *confs, drv, *args]
            )
        )
    return q(["spark-submit", "--master", master or "yarn", "--py-files", pkg, *confs, drv, *args])
