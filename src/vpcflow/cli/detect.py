"""``vpcflow detect`` and ``vpcflow enrich update|ip``."""

from __future__ import annotations

import click

from .options import open_existing, since_option, store_option, until_option
from .output import emit, output_options

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


class _DetectorChoice(click.Choice):
    """The detector names, read from the detect package only when needed (help, validation)."""

    def __init__(self):
        super().__init__(())

    @property
    def choices(self):
        from ..detect.detectors import DETECTORS

        return tuple(DETECTORS)

    @choices.setter
    def choices(self, value):
        pass


def register(main: click.Group) -> None:
    @main.command("detect")
    @store_option
    @since_option
    @until_option
    @output_options
    @click.option(
        "--threat-list",
        "threat_lists",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="File of known-bad IP addresses or CIDRs, one per line, # comments (repeatable).",
    )
    @click.option(
        "--detector",
        "detectors",
        multiple=True,
        type=_DetectorChoice(),
        help="Run only this detector (repeatable; default all).",
    )
    def detect_cmd(store_path, since, until, fmt, output, threat_lists, detectors):
        """Find scans, sweeps, brute force, exfiltration, listed addresses and reject spikes.

        table: the most urgent first, one line each; csv/json/jsonl: every field of a finding.
        """
        from ..detect import detect, load_lists, store_is_empty
        from .progress import Activity

        lists = load_lists(threat_lists)  # bad lists fail before any query
        store = open_existing(store_path)
        with Activity("detecting") as act:
            findings = detect(
                store,
                since=since,
                until=until,
                threat_lists=lists,
                detectors=list(detectors) or None,
            )
            act.done(f"{len(findings):,} finding{'s' if len(findings) != 1 else ''}")
        if fmt != "table":
            emit([f.to_dict() for f in findings], fmt, output=output)
        elif findings:
            rows = []
            for f in findings:
                d = f.to_dict()
                if f.source in f.names:
                    d["source"] = f"{f.source} ({f.names[f.source]})"
                d["targets"] = ", ".join(f.targets[:3]) + (" …" if len(f.targets) > 3 else "")
                d["ports"] = ", ".join(map(str, f.ports[:5])) + (" …" if len(f.ports) > 5 else "")
                rows.append({k: d[k] for k in _COLUMNS})
            emit(rows, "table", output=output)
        if not findings:
            why = "the store is empty" if store_is_empty(store) else "nothing matched"
            click.echo(f"No findings: {why}.", err=True)

    @main.group("enrich")
    def enrich_group():
        """Enrichment data: AWS IP ranges, address look-ups."""

    @enrich_group.command("update")
    @click.option("--url", default=None, help="ip-ranges.json URL (env VPCFLOW_IP_RANGES_URL).")
    @click.option(
        "--file",
        "file",
        type=click.Path(dir_okay=False),
        default=None,
        help="Load this local copy of ip-ranges.json instead of downloading (offline machines).",
    )
    def update_cmd(url, file):
        """Download AWS's current ip-ranges.json for aws_service()/aws_region()."""
        from ..enrich import aws_ranges

        if url and file:
            raise click.UsageError("give --url or --file, not both")
        r = aws_ranges.update(url=url, file=file)
        click.echo(f"Saved {r.prefixes:,} prefixes (createDate {r.create_date}) to {r.path}.")

    @enrich_group.command("ip")
    @click.argument("addresses", nargs=-1, required=True)
    @output_options
    def ip_cmd(addresses, fmt, output):
        """Country, AS and AWS service of ADDRESSES (IPv4 or IPv6)."""
        from ..enrich import lookup

        emit(lookup(addresses), fmt, output=output)
