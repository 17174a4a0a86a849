"""``vpcflow detect`` and ``vpcflow enrich update|ip``."""

from __future__ import annotations

import json

import click

from .options import engine_options, open_existing, since_option, store_option, until_option
from .output import FORMATS, emit, output_option, output_options

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


def emit_lines(lines: list[str], output: str | None) -> None:
    """JSON lines to standard output, or to ``output`` (replaced when complete)."""
    if output is None:
        for line in lines:
            click.echo(line)
        return
    import os
    from pathlib import Path

    path = Path(output)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(line + "\n" for line in lines))
    os.replace(tmp, path)


def register(main: click.Group) -> None:
    @main.command("detect")
    @store_option
    @engine_options
    @since_option
    @until_option
    @click.option(
        "--format",
        "fmt",
        type=click.Choice([*FORMATS, "ocsf"]),
        default="table",
        show_default=True,
        help="table: the summary; csv/json/jsonl: every field (thresholds crossed, sample "
        "records, the records query); ocsf: OCSF Detection Finding JSON lines.",
    )
    @output_option
    @click.option(
        "--threat-list",
        "threat_lists",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="File of known-bad IP addresses or CIDRs, one per line, # comments (repeatable).",
    )
    @click.option(
        "--allow-list",
        "allow_lists",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="File of rules for findings not to report: authorised scanners, known services "
        "(repeatable).",
    )
    @click.option(
        "--internal",
        "internal",
        multiple=True,
        metavar="CIDR",
        help="A network that is ours (repeatable; default VPCFLOW_INTERNAL_NETWORKS: RFC 1918, "
        "100.64.0.0/10, fc00::/7). A VPC with public IPv4 ranges names them all.",
    )
    @click.option(
        "--detector",
        "detectors",
        multiple=True,
        type=_DetectorChoice(),
        help="Run only this detector (repeatable; default all).",
    )
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
    @click.option(
        "--no-rollups",
        "no_rollups",
        is_flag=True,
        help="Read the records even where the store's rollups answer (the same findings).",
    )
    def detect_cmd(
        store_path,
        since,
        until,
        fmt,
        output,
        threat_lists,
        allow_lists,
        detectors,
        overrides,
        new_only,
        no_rollups,
        internal,
    ):
        """Find scans, sweeps, brute force, exfiltration, listed addresses and reject spikes.

        table: the most urgent first, one line each; csv/json/jsonl: every field of a finding;
        ocsf: one OCSF Detection Finding (class 2004) a line.
        """
        from .. import networks
        from ..detect import detect, load_allow_lists, load_lists, store_is_empty
        from ..store.nopandas import pandas_hidden
        from .progress import Activity

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
        networks.check(internal, "--internal")
        allowed = load_allow_lists(allow_lists)
        store = open_existing(store_path)
        # DuckDB hands detect Arrow data only (see hide_pandas: half a second of start-up)
        with pandas_hidden(store.engine.name == "duckdb"), Activity("detecting") as act:
            findings = detect(
                store,
                since=since,
                until=until,
                threat_lists=lists,
                detectors=list(detectors) or None,
                thresholds=thresholds,
                allow=[allowed],
                new_only=new_only,
                rollups=not no_rollups,
                internal=list(internal) or None,
                # the table shows no sample records: not reading them saves a scan
                samples=0 if fmt == "table" else 3,
            )
            act.done(f"{len(findings):,} finding{'s' if len(findings) != 1 else ''}")
        if fmt == "ocsf":
            from ..detect.ocsf import to_ocsf

            emit_lines([json.dumps(to_ocsf(f), default=str) for f in findings], output)
        elif fmt != "table":
            emit([f.to_dict() for f in findings], fmt, output=output)
        elif findings:
            rows = []
            for f in findings:
                d = f.to_dict()
                d["targets"] = ", ".join(f.targets[:3]) + (" …" if len(f.targets) > 3 else "")
                d["ports"] = ", ".join(map(str, f.ports[:5])) + (" …" if len(f.ports) > 5 else "")
                rows.append({k: d[k] for k in _COLUMNS})
            emit(rows, "table", output=output)
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
