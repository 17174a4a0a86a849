"""``vpcflow spark-job``: package vpcflow for a Spark cluster and print the submit command."""

from __future__ import annotations

import click


@click.command("spark-job")
@click.argument("sources", nargs=-1, required=True)
@click.option(
    "--store",
    "store_path",
    required=True,
    help="Store directory as the cluster sees it (a filesystem every executor mounts).",
)
@click.option(
    "--platform",
    type=click.Choice(["standalone", "emr", "glue", "dataproc", "k8s"]),
    default="standalone",
    show_default=True,
    help="Where the job runs: the command and setup differ.",
)
@click.option("--spark-master", "master", default=None, help="Master URL (standalone, k8s).")
@click.option(
    "--spark-conf", "conf", multiple=True, metavar="KEY=VALUE", help="A Spark setting (repeatable)."
)
@click.option(
    "--out",
    "out_dir",
    default="vpcflow-spark-job",
    show_default=True,
    help="Directory for the package and the driver script.",
)
def spark_job_cmd(sources, store_path, platform, master, conf, out_dir):
    """Write what a cluster needs to run 'vpcflow ingest --engine spark' and print the command.

    SOURCES are paths or s3:// prefixes as the cluster sees them.
    """
    from ..engines.spark import parse_conf
    from ..engines.spark_submit import package, submit_command

    files = package(out_dir)
    click.echo(f"# wrote {files['package']} and {files['driver']}", err=True)
    click.echo(
        submit_command(
            platform,
            files,
            list(sources),
            store_path,
            master=master or None,
            conf=parse_conf(conf),
        )
    )


def register(main: click.Group) -> None:
    main.add_command(spark_job_cmd)
