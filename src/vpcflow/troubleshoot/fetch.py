"""Fetch the configurations the troubleshooter needs live from EC2, with boto3.

    DescribeNetworkInterfaces   the interfaces seen in the records (filter network-interface-id)
    DescribeSecurityGroups      their groups, plus the groups their rules reference (group-id)
    DescribeNetworkInterfaces   the members of referenced groups, so "from sg-x" can be checked
    DescribeNetworkAcls         the ACLs of their subnets (association.subnet-id)

The responses have the shape ``aws ec2 describe-*`` prints, so they go through the same parsers
as the files (:mod:`.configs`). Filters (not ``...Ids=``) are used so that an interface or group
that no longer exists is simply absent instead of failing the whole call. Clients and error
translation come from :mod:`vpcflow.aws` (``--profile``, ``--aws-region``, ``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from .. import aws
from ..errors import ConfigError, SourceError
from .configs import Configs, parse_network_acls, parse_network_interfaces, parse_security_groups

log = logging.getLogger("vpcflow.troubleshoot.fetch")

__all__ = ["fetch_configs", "store_interface_ids"]


def _referenced_groups(groups: list[dict]) -> set[str]:
    refs = set()
    for g in groups:
        for key in ("IpPermissions", "IpPermissionsEgress"):
            for perm in g.get(key) or []:
                for pair in perm.get("UserIdGroupPairs") or []:
                    if isinstance(pair, dict) and pair.get("GroupId"):
                        refs.add(pair["GroupId"])
    return refs


def fetch_configs(
    interface_ids: Iterable[str],
    profile: str | None = None,
    region: str | None = None,
    *,
    client=None,
) -> Configs:
    """Describe ``interface_ids``, their security groups and subnets' network ACLs in EC2.

    Returns what :func:`~vpcflow.troubleshoot.load_configs` returns. Interfaces that no longer
    exist are left out (their conversations get logs-only verdicts); if none of them is found,
    raises :class:`~vpcflow.errors.SourceError` (usually the wrong region or account).
    ``client``: an EC2 client to use instead of one made from ``profile``/``region``.
    """
    ids = sorted({i for i in interface_ids if i})
    if not ids:
        raise ConfigError("no network interface ids to look up in EC2 (the records have none)")
    ec2 = client or aws.client("ec2", profile=profile, region=region)
    where = ec2.meta.region_name

    enis = aws.describe(
        ec2, "describe_network_interfaces", "NetworkInterfaces", "network-interface-id", ids
    )
    found = {e.get("NetworkInterfaceId") for e in enis}
    missing = [i for i in ids if i not in found]
    if not enis:
        shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
        raise SourceError(
            f"none of the {len(ids)} network interface(s) in the records ({shown}) exists in "
            f"{where}: check the AWS region (--aws-region, region=) and profile (the account that owns them)"
        )
    if missing:
        log.warning(
            "%d of %d network interfaces not found in %s (deleted?): %s%s; their conversations "
            "get logs-only verdicts",
            len(missing),
            len(ids),
            where,
            ", ".join(missing[:5]),
            " ..." if len(missing) > 5 else "",
        )
    subnets = {e["SubnetId"] for e in enis if e.get("SubnetId")}

    group_ids = {g["GroupId"] for e in enis for g in e.get("Groups") or [] if g.get("GroupId")}
    groups = aws.describe(ec2, "describe_security_groups", "SecurityGroups", "group-id", group_ids)
    referenced = _referenced_groups(groups)
    extra = referenced - {g.get("GroupId") for g in groups}
    if extra:  # groups in other accounts (peering) are not visible and stay unresolved
        groups += aws.describe(ec2, "describe_security_groups", "SecurityGroups", "group-id", extra)
    if referenced:
        # A rule "from sg-x" matches the addresses of sg-x's members: describe them too.
        members = aws.describe(
            ec2, "describe_network_interfaces", "NetworkInterfaces", "group-id", referenced
        )
        enis += [m for m in members if m.get("NetworkInterfaceId") not in found]

    acls = (
        aws.describe(ec2, "describe_network_acls", "NetworkAcls", "association.subnet-id", subnets)
        if subnets
        else []
    )
    log.info(
        "fetched %d interfaces, %d security groups, %d network ACLs from %s",
        len(enis),
        len(groups),
        len(acls),
        where,
    )
    c = Configs()
    c.interfaces.update(
        parse_network_interfaces(
            {"NetworkInterfaces": enis},
            f"ec2:DescribeNetworkInterfaces ({where})",
        )
    )
    c.security_groups.update(
        parse_security_groups({"SecurityGroups": groups}, f"ec2:DescribeSecurityGroups ({where})")
    )
    c.network_acls.update(
        parse_network_acls({"NetworkAcls": acls}, f"ec2:DescribeNetworkAcls ({where})")
    )
    return c


def store_interface_ids(
    store,
    interface_id: str | None = None,
    since: int | None = None,
    until: int | None = None,
    only_rejected: bool = True,
) -> list[str]:
    """The interfaces ``vpcflow troubleshoot`` would report on (with a REJECT, by default)."""
    from . import record_filters  # the package imports this module

    filters = ["interface_id IS NOT NULL", *record_filters(interface_id, since, until)]
    if only_rejected:
        filters.append("action = 'REJECT'")
    table = store.sql(
        "SELECT DISTINCT interface_id FROM vpc_flow_logs WHERE " + " AND ".join(filters)
    )
    return sorted(table.column("interface_id").to_pylist())
