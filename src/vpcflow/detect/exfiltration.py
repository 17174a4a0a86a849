"""The ``data-exfiltration`` detector: an instance's outbound volume judged against its own
history (``sql/data_exfiltration.sql``). The other detectors are in :mod:`.detectors`."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Detector, _pair_query, _setting, _sorted, crossed
from .finding import Finding, human_bytes


@dataclass(frozen=True)
class DataExfiltration(Detector):
    """``data-exfiltration``: an instance sending an unusual volume to one external destination.

    Judged as GuardDuty judges unusual traffic volume: against the instance's own history.

    * ``window = 3600`` s: bytes are summed per instance, destination and hour.
    * a destination is a network, not one address: the AWS service and region of the address
      when the AWS ranges are loaded (``vpcflow enrich update``; EC2 and the generic AMAZON
      ranges excepted, anyone can rent those), else its IPv4 /16. S3 and CDNs rotate their
      addresses per connection; an upload spread over them is one transfer to one destination.
    * ``min_bytes = 100 MB`` in a window: below that a transfer is not worth a person's time.
    * **a new destination**: one the instance sent to in fewer than ``partner_windows = 3``
      windows *before* the transfer began (history before it only: a transfer of many hours
      cannot make its own destination usual), in a window of at least ``factor = 10`` times the
      instance's usual peak to a not-yet-usual destination (the ``baseline_quantile = 0.5``
      quantile over its active hours; an instance seen for fewer than
      ``min_baseline_windows = 3`` hours has none and ``min_bytes`` alone decides).
      Legitimate transfers vary by two or three times hour to hour.
    * ``history_windows = 6``: a transfer that begins within 6 windows of the start of the
      data has too little past to judge by; there the windows after it count, and, when it
      lasts 6 windows or more, its own windows that are no burst: a steady upload that was
      already going on when the data began is the instance's baseline (a steady all-day
      upload to S3 without the AWS ranges), not a new destination. The price: a transfer to a
      new destination that begins in the data's first hours and goes on steadily for six
      hours or more is taken as usual unless the run reads the store's earlier days.
    * **a burst** to a usual destination: at least ``factor`` times the instance's median
      window to that destination (its own baseline), sent to in ``partner_windows`` windows
      before: a dump to the network an instance uploads a little to every hour.
    * **shared services**: a destination ``shared_sources = 5`` or more of our addresses send
      to (a NAT gateway's address counts as one, so two hosts exfiltrating through the gateway
      are still judged one by one), or an AWS service (named by the ranges, or by the records'
      ``pkt-dst-aws-service``), is not new to the network. An AWS
      service is judged by bursts only (a first upload to S3 is not a new destination; flow
      logs cannot tell an attacker's bucket from ours); another shared destination is new to
      an instance only when it sends ``factor`` times the median window of all its senders.
    * consecutive windows over the thresholds to one destination are one episode: one finding
      with the whole transfer's bytes, times and addresses.

    Only requests the instance made count (it connected out); answers of our servers to
    internet clients, and downloads from mirrors, are not uploads.
    """

    name = "data-exfiltration"
    sql_file = "data_exfiltration"
    factor: float = _setting("exfiltration_factor")
    min_bytes: int = _setting("exfiltration_min_bytes")
    baseline_quantile: float = 0.5
    min_baseline_windows: int = 3
    partner_windows: int = _setting("exfiltration_partner_windows")
    history_windows: int = 6
    shared_sources: int = _setting("exfiltration_shared_sources")
    window: int = _setting("exfiltration_window")

    def finding(self, row):
        # sums arrive as DECIMAL (HUGEINT) and quantiles as DOUBLE: compare as floats
        burst = row.get("kind") == "burst"
        shared = not burst and int(row.get("n_sources") or 0) >= self.shared_sources
        if burst:
            usual, what_usual = float(row["own_usual"] or 0), "the instance's usual window to it"
        elif shared:
            usual, what_usual = float(row["peers_usual"] or 0), "what its senders usually send"
        else:
            usual, what_usual = float(row["usual"] or 0), "the instance's usual peak"
        sent = float(row["bytes"])
        peak = float(row["peak"] or sent)
        n_windows = int(row["n_windows"] or 1)
        has_baseline = burst or shared or int(row["windows"]) >= self.min_baseline_windows
        ratio = peak / usual if usual and has_baseline else None
        short = what_usual.replace("the instance's", "its")
        times = f", {ratio:.0f}x {short}" if ratio else ""
        targets = _sorted(row["targets"])
        dest = str(row["destination"])
        if len(targets) == 1:
            where = f"external address {targets[0]}"
        else:
            where = f"{len(targets)} external addresses of {dest}"
        if burst:
            where += ", a usual destination"
        hours = self.window / 3600
        span = (
            f"within {hours:g} hour{'s' if hours != 1 else ''}"
            if n_windows == 1
            else f"over {n_windows} consecutive windows of {hours:g} h "
            f"({human_bytes(peak)} in the busiest)"
        )
        what = (
            f"Our instance {row['source']} sent {human_bytes(sent)} to {where} {span}{times}: "
            "find the process that sent it and block the destination."
        )
        thresholds = [
            crossed(
                "min_bytes",
                "bytes sent to one external destination in a window (the busiest)",
                self.min_bytes,
                int(peak),
            ),
        ]
        if burst:
            thresholds.append(
                crossed(
                    "partner_windows",
                    "windows the destination was sent to before this burst (near the start "
                    "of the data: besides it); as many or more: a usual destination",
                    self.partner_windows,
                    int(row["partner_windows"]),
                )
            )
        else:
            thresholds.append(
                crossed(
                    "partner_windows",
                    "windows the destination was sent to before this began (near the start of "
                    "the data: after it); fewer: not a usual partner",
                    self.partner_windows,
                    int(row["partner_windows"]),
                )
            )
        if shared:
            thresholds.append(
                crossed(
                    "shared_sources",
                    "our addresses sending to the destination; as many or more: a shared "
                    "service, judged by what its senders usually send",
                    self.shared_sources,
                    int(row["n_sources"]),
                )
            )
        if has_baseline:
            thresholds.append(
                crossed(
                    "factor",
                    f"times {what_usual}",
                    self.factor,
                    round(ratio, 1) if ratio else None,
                )
            )
        return self._base(
            row,
            "high",
            what,
            destination=dest,
            judged="burst" if burst else "shared" if shared else "new",
            baseline_bytes=usual,
            ratio=round(ratio, 1) if ratio else None,
            windows=n_windows,
            peak_bytes=int(peak),
            # records of one upload logged on both the instance's and the NAT gateway's
            # interfaces: the instance's finding outweighs the gateway's translated copy
            logged=int(row["logged"] or 0),
            thresholds=thresholds,
        )

    def records_where(self, f: Finding) -> str:
        return _pair_query(f, [f.source], f.targets, f.ports)
