"""``vpcflow detect`` and ``vpcflow enrich update|ip``."""

from __future__ import annotations

import click

from .options import open_existing, store_option
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
    @click.option(
        "--since",
        default=None,
        help="Start: ISO-8601, Unix seconds or a duration back from now (24h, 7d).",
    )
    @click.option("--until", default=None, help="End: same forms as --since.")
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "json", "ocsf"]),
        default="table",
        help="table (summary), json (everything: thresholds, samples, query) or ocsf "
        "(OCSF Detection Finding JSON lines).",
    )
    @click.option("--threat-list", "threat_lists", multiple=True, help="IP/CIDR list file.")
    @click.option(
        "--allow-list",
        "allow_lists",
        multiple=True,
        help="File of rules for findings not to report (authorised scanners, known services).",
    )
    @click.option("--detector", "detectors", multiple=True, help="Run only these detectors.")
    @click.option(
        "--threshold",
        "overrides",
        multiple=True,
        metavar="DETECTOR.NAME=VALUE",
        help="Override a threshold for this run, e.g. host-sweep.min_targets=10.",
    )
    @click.option(
        "--new",
        "new_only",
        is_flag=True,
        help="Only findings no earlier --new run on this store reported (for a cron job).",
    )
    def detect_cmd(
        store_path, since, until, fmt, threat_lists, allow_lists, detectors, overrides, new_only
    ):
        """Find scans, sweeps, brute force, exfiltration, listed addresses and reject spikes."""
        from ..detect import detect, load_allow_lists, load_lists, store_is_empty

        thresholds: dict[str, dict] = {}
        for item in overrides:
            key, sep, value = item.partition("=")
            name, dot, field = key.strip().rpartition(".")
            if not (sep and dot and name and field):
                raise click.BadParameter(
                    f"{item!r}: write DETECTOR.NAME=VALUE (host-sweep.min_targets=10)",
                    param_hint="--threshold",
                )
            thresholds.setdefault(name, {})[field] = value.strip()
        lists = load_lists(threat_lists)  # bad lists fail before any query
        allowed = load_allow_lists(allow_lists)
        store = open_existing(store_path)
        findings = detect(
            store,
            since=since,
            until=until,
            threat_lists=lists,
            detectors=list(detectors) or None,
            thresholds=thresholds,
            allow=[allowed],
            new_only=new_only,
        )
        if fmt == "json":
            emit([f.to_dict() for f in findings], "json")
        elif fmt == "ocsf":
            import json

            from ..detect.ocsf import to_ocsf

            for f in findings:
                click.echo(json.dumps(to_ocsf(f), default=str))
        elif findings:
            rows = []
            for f in findings:
                d = f.to_dict()
                d["targets"] = ", ".join(f.targets[:3]) + (" …" if len(f.targets) > 3 else "")
                d["ports"] = ", ".join(map(str, f.ports[:5])) + (" …" if len(f.ports) > 5 else "")
                rows.append({k: d[k] for k in _COLUMNS})
            emit(rows, "table")
        if not findings:
            if new_only:
                why = "nothing new since the last --new run"
            else:
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
