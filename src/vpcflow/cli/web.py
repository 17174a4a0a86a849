"""``vpcflow serve``: the web dashboard over the store."""

from __future__ import annotations

import sys

import click

from .options import open_existing, store_option


def serve_options(fn):
    for opt in reversed(
        [
            click.option(
                "--host",
                default="127.0.0.1",
                show_default=True,
                help="Address to listen on; any but loopback requires a token.",
            ),
            click.option(
                "--port",
                type=click.IntRange(0, 65535),
                default=8000,
                show_default=True,
                help="Port (0: any free one).",
            ),
            click.option(
                "--token",
                envvar="VPCFLOW_TOKEN",
                default=None,
                help="Require this token on every request [env VPCFLOW_TOKEN]; generated for a "
                "non-loopback --host when not given.",
            ),
            click.option("--open", "open_browser", is_flag=True, help="Open it in a browser."),
        ]
    ):
        fn = opt(fn)
    return fn


def start(store, host, port, token, open_browser, **options) -> None:
    from ..web import serve

    label = getattr(store, "path", store)

    def ready(server):
        click.echo(f"vpcflow dashboard on {label}: {server.url}")
        if server.token and not token:
            click.echo("  (a token was generated: only this URL opens the dashboard)")
        click.echo("  Ctrl+C stops it.")
        sys.stdout.flush()  # the URL must reach a pipe or a log before the server blocks
        if open_browser:
            import webbrowser

            webbrowser.open(server.url)

    serve(store, host, port, token, ready=ready, **options)


@click.command("serve")
@store_option
@serve_options
@click.option(
    "--security-groups",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="describe-security-groups JSON for the rejections page (repeatable).",
)
@click.option(
    "--network-acls",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="describe-network-acls JSON (repeatable).",
)
@click.option(
    "--network-interfaces",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="describe-network-interfaces JSON (repeatable).",
)
@click.option(
    "--from-aws",
    is_flag=True,
    help="Fetch the configurations of the rejecting interfaces from EC2 (boto3).",
)
@click.option("--profile", default=None, help="AWS profile for --from-aws.")
@click.option("--aws-region", default=None, help="AWS region for --from-aws.")
@click.option(
    "--no-rollups",
    "no_rollups",
    is_flag=True,
    help="Answer every panel from the records, never from the store's rollups (to compare).",
)
def serve_cmd(
    store_path,
    host,
    port,
    token,
    open_browser,
    security_groups,
    network_acls,
    network_interfaces,
    from_aws,
    profile,
    aws_region,
    no_rollups,
):
    """Serve the web dashboard over the store (http://127.0.0.1:8000/ by default).

    Every page has a JSON twin (add .json), described at /openapi.json.
    """
    from .. import troubleshoot as ts

    if from_aws and (security_groups or network_acls or network_interfaces):
        raise click.UsageError("--from-aws fetches the configurations: give no files with it")
    configs = None
    if security_groups or network_acls or network_interfaces:
        configs = ts.load_configs(security_groups, network_acls, network_interfaces)
    fetch = None
    if from_aws:
        fetch = _aws_fetcher(profile, aws_region)
    store = open_existing(store_path)
    from ..store.nopandas import pandas_hidden

    # the dashboard hands PyArrow no pandas objects: see hide_pandas (otherwise the first request
    # that names an address waits half a second for pandas)
    with pandas_hidden(store.engine.name == "duckdb"):
        start(
            store,
            host,
            port,
            token,
            open_browser,
            configs=configs,
            fetch_configs=fetch,
            rollups=not no_rollups,
        )


def _aws_fetcher(profile, region):
    from .. import troubleshoot as ts

    def fetch(store, interface_id, since, until):
        ids = ts.store_interface_ids(store, interface_id, since, until, only_rejected=True)
        return ts.fetch_configs(ids, profile=profile, region=region) if ids else None

    return fetch


def register(main: click.Group) -> None:
    main.add_command(serve_cmd)
