"""Rebuild ``src/vpcflow/web/static/world.json`` (the dashboard's map) from npm packages.

    cd "$(mktemp -d)" && npm pack world-atlas@2.0.2 i18n-iso-countries@7.14.0
    tar xzf world-atlas-2.0.2.tgz && mv package atlas
    tar xzf i18n-iso-countries-7.14.0.tgz && mv package codes
    python scripts/world_map.py atlas/countries-110m.json codes/codes.json OUT/world.json

TopoJSON arcs are decoded to GeoJSON polygons; rings that cross the antimeridian are unwrapped
(a flat map would draw a line across the world); each feature is named by its ISO 3166-1 alpha-2
code, which is what ``ip_country()`` returns; Antarctica is left out. Licences:
``static/world.LICENSE.txt``.
"""

from __future__ import annotations

import json
import sys


def main(topo_path: str, codes_path: str, out_path: str) -> None:
    topo = json.load(open(topo_path))
    codes = {c[2]: c[0] for c in json.load(open(codes_path))}
    codes["-99"] = None
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            pts.append([x * sx + tx, round(y * sy + ty, 3)])
        arcs.append(pts)

    def ring(indexes):
        pts: list = []
        for i in indexes:
            a = arcs[i] if i >= 0 else arcs[~i][::-1]
            pts.extend(a if not pts else a[1:])
        out = [pts[0][:]]
        for x, y in pts[1:]:  # unwrap: no step of more than half the world
            while x - out[-1][0] > 180:
                x -= 360
            while x - out[-1][0] < -180:
                x += 360
            out.append([round(x, 3), y])
        return out

    features = []
    for g in topo["objects"]["countries"]["geometries"]:
        name = g["properties"]["name"]
        code = codes.get(g.get("id")) or {"Kosovo": "XK"}.get(name, name)
        if code == "AQ":
            continue
        polys = [
            [ring(r) for r in p]
            for p in (g["arcs"] if g["type"] == "MultiPolygon" else [g["arcs"]])
        ]
        for i, p in enumerate(polys):
            mean = sum(x for x, _ in p[0]) / len(p[0])
            shift = -360 if mean > 180 else 360 if mean < -180 else 0
            if shift:
                polys[i] = [[[x + shift, y] for x, y in r] for r in p]
        features.append(
            {
                "type": "Feature",
                "properties": {"name": code, "title": name},
                "geometry": {"type": "MultiPolygon", "coordinates": polys},
            }
        )
    with open(out_path, "w") as fh:
        json.dump({"type": "FeatureCollection", "features": features}, fh, separators=(",", ":"))


if __name__ == "__main__":
    main(*sys.argv[1:4])
