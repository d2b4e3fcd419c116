#!/usr/bin/python3
"""Renders a Grafana dashboard JSON to a PNG from a real Prometheus, without Grafana.

Every panel target's `expr` is sent as is to Prometheus' /api/v1/query_range (Grafana's
`$__rate_interval` replaced by --rate-interval, `$namespace` and `$collection` by `.*`), and drawn where the
panel's gridPos puts it: time series as lines (legend from legendFormat), stat panels as the
last value. A stand-in for a Grafana screenshot (Grafana itself is not packaged for Debian):
the layout, titles, units and queries are the dashboard's, the styling is matplotlib's.

Needs python3-matplotlib (Debian; hence /usr/bin/python3). Usage:

    tools/dashboard-png.py --dashboard helm/shardfleet/dashboards/shardfleet.json \\
        --prometheus http://127.0.0.1:9090 --start 1700000000 --end 1700000330 --out dashboard.png

Exits 1 naming the query when Prometheus refuses one.
"""
import argparse
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

ROW_HEIGHT_IN = 0.42  # inches per Grafana grid row (30 px)
WIDTH_IN = 24.0


def fmt(value, unit):
    """A value in the panel's unit, short (e.g. 1.2 ms, 45%, 3.1 MiB)."""
    if value is None:
        return "-"
    if unit == "percentunit":
        return f"{value * 100:.3g}%"
    if unit == "s":
        for scale, suffix in ((3600, "h"), (60, "min"), (1, "s"), (1e-3, "ms"), (1e-6, "µs")):
            if abs(value) >= scale or scale == 1e-6:
                return f"{value / scale:.3g} {suffix}"
    if unit == "bytes":
        for scale, suffix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if abs(value) >= scale:
                return f"{value / scale:.3g} {suffix}"
        return f"{value:.0f} B"
    suffix = {"reqps": " req/s", "ops": "/s"}.get(unit, "")
    return f"{value:.3g}{suffix}"


def prom_query(base, endpoint, expr, **params):
    """The `data.result` list of one Prometheus HTTP API query of `expr`: `endpoint` "query_range"
    (params start, end, step: a list of {metric, values}) or "query" (param time: a list of
    {metric, value}). Exits naming the query when Prometheus refuses it."""
    q = urllib.parse.urlencode({"query": expr, **params})
    try:
        with urllib.request.urlopen(f"{base}/api/v1/{endpoint}?{q}", timeout=30) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:
        sys.exit(f"Prometheus refused {expr!r}: {e.read().decode()}")
    return body["data"]["result"]


def with_gaps(values, step_s):
    """(times, values) of a range result, with NaN where samples are missing (no line across gaps)."""
    xs, ys, last = [], [], None
    for t, v in values:
        t = float(t)
        if last is not None and t - last > 2.5 * step_s:
            xs.append(datetime.fromtimestamp(last + step_s))
            ys.append(float("nan"))
        xs.append(datetime.fromtimestamp(t))
        ys.append(float(v))
        last = t
    return xs, ys


def legend(fmt_text, metric):
    """legendFormat with {{label}} replaced by the series' labels."""
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), fmt_text or "") or json.dumps(metric)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dashboard", required=True)
    ap.add_argument("--prometheus", required=True, help="base URL, e.g. http://127.0.0.1:9090")
    ap.add_argument("--start", type=float, required=True, help="unix seconds")
    ap.add_argument("--end", type=float, required=True, help="unix seconds")
    ap.add_argument("--step", default="5s", help="seconds between points, e.g. 5s")
    ap.add_argument("--rate-interval", default="30s", help="what $__rate_interval stands for")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    step_s = float(re.sub(r"s$", "", args.step))
    dash = json.load(open(args.dashboard))
    panels = dash["panels"]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    height = rows * ROW_HEIGHT_IN + 0.6
    fig = plt.figure(figsize=(WIDTH_IN, height), dpi=70)
    when = f"{datetime.fromtimestamp(args.start):%Y-%m-%d %H:%M:%S} to {datetime.fromtimestamp(args.end):%H:%M:%S}"
    fig.suptitle(f"{dash['title']}  ({when})", fontsize=16, x=0.01, ha="left", y=1 - 0.15 / height)

    def box(g):
        left = g["x"] / 24
        top = 1 - (0.6 + g["y"] * ROW_HEIGHT_IN) / height
        return left, top, g["w"] / 24, g["h"] * ROW_HEIGHT_IN / height

    for p in panels:
        left, top, w, h = box(p["gridPos"])
        if p["type"] == "row":
            fig.text(left + 0.003, top - h / 2, p["title"], fontsize=13, weight="bold", va="center")
            continue
        unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
        ax = fig.add_axes([left + 0.1 * w, top - h + 0.35 / height, w * 0.87, h - 0.75 / height])
        ax.set_title(p["title"], fontsize=10, loc="left")
        series = []
        for t in p.get("targets", []):
            expr = t["expr"].replace("$__rate_interval", args.rate_interval).replace("$namespace", ".*").replace("$collection", ".*")
            if p["type"] == "stat":  # the value at the end, as Grafana's lastNotNull of live series
                for s in prom_query(args.prometheus, "query", expr, time=args.end):
                    series.append((legend(t.get("legendFormat"), s["metric"]), [], [float(s["value"][1])]))
                continue
            for s in prom_query(args.prometheus, "query_range", expr, start=args.start, end=args.end, step=args.step):
                xs, ys = with_gaps(s["values"], step_s)
                series.append((legend(t.get("legendFormat"), s["metric"]), xs, ys))
        if p["type"] == "stat":
            ax.axis("off")
            if not series:
                ax.text(0.5, 0.5, "No data", ha="center", va="center", fontsize=14, color="grey")
            for i, (name, _, ys) in enumerate(series[:4]):
                y = 0.5 + (len(series[:4]) - 1) * 0.22 / 2 - i * 0.22
                ax.text(0.5, y, f"{fmt(ys[-1], unit)}" + (f"  {name}" if len(series) > 1 else ""), ha="center", va="center", fontsize=18 if len(series) == 1 else 12, weight="bold")
            continue
        ax.set_xlim(datetime.fromtimestamp(args.start), datetime.fromtimestamp(args.end))
        if not series:
            ax.text(0.5, 0.5, "No data", ha="center", va="center", transform=ax.transAxes, color="grey")
        for name, xs, ys in series:
            ax.plot(xs, ys, label=name, linewidth=1.2)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _pos, u=unit: fmt(v, u)))
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        if series:
            ax.legend(fontsize=7, loc="upper left", ncol=2 if len(series) > 4 else 1, framealpha=0.6)
    fig.savefig(args.out)
    print(f"wrote {args.out}: {sum(1 for p in panels if p['type'] != 'row')} panels")


if __name__ == "__main__":
    main()
