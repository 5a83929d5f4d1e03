#!/usr/bin/env python3
"""Benchmarks: the release binary under wrk, on loopback, results written to BENCHMARKS.md.

Reads (wall, API, badge, home) at 32 connections, then signed webhooks (each a durable SQLite
commit), then memory from /proc. Rerun with `scripts/bench/run.py`; it needs wrk
(`apt-get install wrk`)."""

import datetime
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "drills"))
import common  # noqa: E402

ROOT = common.ROOT
SEED = 1000
WEBHOOK_EVENTS = 40000
DURATION = "15s"


def wrk(url, script=None, *script_args):
    extra = ["-s", script, url, "--", *script_args] if script else [url]
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{DURATION}", "--latency", *extra],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, lat.get("50"), lat.get("99"), int(errors.group(1)) if errors else 0


def rss_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(rf"{field}:\s+(\d+) kB", f.read()).group(1))


def main():
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    common.BINARY = os.path.join(ROOT, "target", "release", "kaffeekasse")
    service = common.Service().start()
    pid = service.proc.pid
    idle = rss_kb(pid, "VmRSS")

    for n in range(SEED):
        _, _, body = common.completed_event(n)
        assert common.deliver(service.url, body) == 200
    results = []
    for path in ["/api/supporters", "/api/stats", "/supporters", "/badge.svg", "/"]:
        rps, p50, p99, errors = wrk(service.url + path)
        results.append((f"GET {path}", rps, p50, p99, errors))

    events = os.path.join(tempfile.mkdtemp(), "events.tsv")
    with open(events, "w") as f:
        for n in range(SEED, SEED + WEBHOOK_EVENTS):
            _, _, body = common.completed_event(n)
            f.write(f"{common.sign(body)}\t{body}\n")
    script = os.path.join(ROOT, "scripts", "bench", "webhooks.lua")
    rps, p50, p99, errors = wrk(service.url, script, events, "2")
    stored = service.scalar("SELECT COUNT(*) FROM stripe_events")
    results.append(("POST /webhooks/stripe (new events, durable commit)", rps, p50, p99, errors))
    peak = rss_kb(pid, "VmHWM")
    service.stop()

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    lines = [
        "# Benchmarks",
        "",
        "Measured by `scripts/bench/run.py`: the release binary on loopback, wrk with 2 threads and 32",
        f"connections for {DURATION} per endpoint, {SEED} paid donations on the wall, SQLite in WAL mode with",
        "`synchronous=FULL`. Load generator and service share the machine, so these are lower bounds.",
        "",
        f"- date: {datetime.date.today()}, commit `{commit}`",
        f"- machine: {os.cpu_count()} cores ({cpu})",
        "",
        "| request | req/s | p50 | p99 | non-2xx |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, rps, p50, p99, errors in results:
        lines.append(f"| {name} | {rps:,.0f} | {p50} | {p99} | {errors} |")
    lines += [
        "",
        f"Webhooks: {stored - SEED:,} new events were committed during the run (each one a ledger row and",
        "a donation, fsynced before the 200).",
        "",
        "| memory | |",
        "|---|---:|",
        f"| resident at idle (after start) | {idle / 1024:.1f} MiB |",
        f"| peak resident during the run | {peak / 1024:.1f} MiB |",
        "",
    ]
    with open(os.path.join(ROOT, "BENCHMARKS.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
