"""``vpcflow detect`` and ``vpcflow enrich update|ip``."""

from __future__ import annotations

import click

from .options import engine_options, open_existing, store_option
from .output import emit

_COLUMNS = (
    "severity",
    "type",
    "source",
    "source_country",
    "source_asn",
    "targets",
    "ports",
    "first_seen",
    "last_seen",
    "records",
    "action",
    "summary",
)


def register(main: click.Group) -> None:
    @main.command("detect")
    @store_option
    @engine_options
    @click.option(
        "--since",
        default=None,
        help="Start: ISO-8601, Unix seconds or a duration back from now (24h, 7d).",
    )
    @click.option("--until", default=None, help="End: same forms as --since.")
    @click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
    @click.option("--threat-list", "threat_lists", multiple=True, help="IP/CIDR list file.")
    @click.option("--detector", "detectors", multiple=True, help="Run only these detectors.")
    def detect_cmd(store_path, since, until, fmt, threat_lists, detectors):
        """Find scans, sweeps, brute force, exfiltration, listed addresses and reject spikes."""
        from ..detect import detect, load_lists, store_is_empty

        lists = load_lists(threat_lists)  # bad lists fail before any query
        store = open_existing(store_path)
        findings = detect(
            store, since=since, until=until, threat_lists=lists, detectors=list(detectors) or None
        )
        if fmt == "json":
            emit([f.to_dict() for f in findings], "json")
        elif findings:
            rows = []
            for f in findings:
                d = f.to_dict()
                d["targets"] = ", ".join(f.targets[:3]) + (" …" if len(f.targets) > 3 else "")
                d["ports"] = ", ".join(map(str, f.ports[:5])) + (" …" if len(f.ports) > 5 else "")
                rows.append({k: d[k] for k in _COLUMNS})
            emit(rows, "table")
        if not findings:
            why = "the store is empty" if store_is_empty(store) else "nothing matched"
            click.echo(f"No findings: {why}.", err=True)

    @main.group("enrich")
    def enrich_group():
        """Enrichment data: AWS IP ranges, address look-ups."""

    @enrich_group.command("update")
    @click.option("--url", default=None, help="ip-ranges.json URL (env VPCFLOW_IP_RANGES_URL).")
    def update_cmd(url):
        """Download AWS's current ip-ranges.json for aws_service()/aws_region()."""
        from ..enrich import aws_ranges

        r = aws_ranges.update(url=url)
        click.echo(f"saved {r.prefixes} prefixes (createDate {r.create_date}) to {r.path}")

    @enrich_group.command("ip")
    @click.argument("addresses", nargs=-1, required=True)
    @click.option(
        "--format", "fmt", type=click.Choice(["table", "csv", "json", "jsonl"]), default="table"
    )
    def ip_cmd(addresses, fmt):
        """Country, AS and AWS service of ADDRESSES."""
        from ..enrich import lookup

        emit(lookup(addresses), fmt)
