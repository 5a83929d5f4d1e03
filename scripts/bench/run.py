#!/usr/bin/env python3
"""Benchmarks: the release binary under wrk on loopback, at 100,000 supporters.

Every figure is the median of RUNS runs and is reported as a ratio to `/healthz` measured in the
same run (this binary's HTTP ceiling on this machine), because the machine is shared and noisy.

  W1  signed webhooks, each a new donation (the Payment Link path), with WEBHOOK_BATCH_MAX=1
      (one commit per webhook: the naive path) and with the default batching; and webhooks with
      a bad signature (refused with 400 before anything is parsed)
  W2  the first wall page, a page 1,000 rows deep, /supporters, /badge.svg, /api/stats: idle,
      and while about 1,000 webhooks/s are being ingested
  D   the deep page at 1k, 10k and 100k supporters (its cost must not grow)
  RSS peak resident memory over all of it

  scripts/bench/run.py            # the full run (about 10 minutes), writes BENCHMARKS.md
  scripts/bench/run.py --smoke    # one short run at a small scale, no file written (CI runs
                                  # this; most of its time is the release build)
  scripts/bench/run.py --only webhooks [--runs 1] [--binary PATH] [--profile DIR]
                                  # /healthz and the W1 figures only, printed, no file written;
                                  # --profile records `perf record -g` on the service for 5 s
                                  # of the batched webhooks and writes a summary per thread

Needs wrk (`apt-get install wrk`)."""

import argparse
import datetime
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "drills"))
import common  # noqa: E402

ROOT = common.ROOT
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "stripe", "objects.json")
LINK = "plink_bench"
KEPT = "<!-- Below this line BENCHMARKS.md is written by hand; run.py keeps it. -->"


def wrk(url, duration, connections=64, script=None, args=()):
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    cmd += ["-s", script, url, "--", *args] if script else [url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {p: to_ms(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": lat.get("50"), "p99": lat.get("99"), "errors": int(errors.group(1)) if errors else 0}


def to_ms(text):
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def seed(path, supporters):
    """A database with `supporters` paid donations, made with the binary's own migrations."""
    env = {"PATH": os.environ["PATH"], "DATABASE_URL": f"sqlite://{path}"}
    subprocess.run([common.BINARY, "migrate"], env=env, check=True, capture_output=True)
    now = int(time.time())
    rows = (
        (f"seed-{n:07d}", f"cs_seed_{n:07d}", 1 + n % 3, 500 * (1 + n % 3),
         f"Leserin {n}" if n % 4 == 0 else None, "Danke für den Blog!" if n % 8 == 0 else None,
         "public" if n % 4 == 0 else "anonymous", now - supporters + n)
        for n in range(supporters)
    )
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO donations (id, provider, checkout_session_id, coffees, expected_amount_cents, "
            "amount_cents, currency, name, message, visibility, status, checkout_state, livemode, "
            "created_at, updated_at, paid_at) VALUES (?1, 'stripe', ?2, ?3, ?4, ?4, 'eur', ?5, ?6, ?7, "
            "'paid', 'paid', 0, ?8, ?8, ?8)", rows)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def events_file(directory, count, first, secret=common.SECRET):
    """`count` signed `checkout.session.completed` events of a listed Payment Link, each a new
    donation, in the shape of Stripe's fixtures: one "<signature>\\t<body>" line each. Signed
    with another `secret` than the service's, each is refused."""
    fixtures = json.load(open(FIXTURES))["resources"]
    session, envelope = fixtures["checkout.session"], fixtures["event"]
    path = os.path.join(directory, f"events-{first}.tsv")
    now = int(time.time())
    with open(path, "w") as f:
        for n in range(first, first + count):
            s = dict(session, id=f"cs_bench_{n:08d}", payment_link=LINK, metadata={}, status="complete",
                     payment_status="paid", amount_total=500, currency="eur", currency_conversion=None,
                     payment_intent=f"pi_bench_{n:08d}", client_reference_id=None, livemode=False)
            e = dict(envelope, id=f"evt_bench_{n:08d}", type="checkout.session.completed", created=now,
                     livemode=False, api_version="2026-09-30.endive", data={"object": s})
            body = json.dumps(e, separators=(",", ":"))
            f.write(f"{common.sign(body, secret)}\t{body}\n")
    return path


def cursor_at(path, depth):
    """The wall cursor after `depth` rows, as the API hands it out."""
    with sqlite3.connect(path) as db:
        created, seq = db.execute(
            "SELECT created_at, rowid FROM donations WHERE status = 'paid' AND hidden = 0 "
            "ORDER BY created_at DESC, rowid DESC LIMIT 1 OFFSET ?", (depth - 1,)).fetchone()
    return f"{created}.{seq}"


def rss_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(rf"{field}:\s+(\d+) kB", f.read()).group(1))


def start(db_path, **env):
    # All of wrk's connections come from one address: the per-client share of connections
    # (32 by default) would refuse half of them.
    settings = {"PAYMENT_PROVIDER": "demo", "STRIPE_PAYMENT_LINKS": LINK, "RUST_LOG": "info",
                "THANKS_RATE_PER_IP": "off", "CONNECTIONS_PER_CLIENT": "1024"}
    settings.update(env)
    return common.Service(db_path=db_path, **settings).start()


def one_run(cfg, seeded, scratch, run):
    """Every workload once, on a fresh copy of the seeded database."""
    db = os.path.join(scratch, f"run{run}.db")
    shutil.copy(seeded, db)
    out, peak = {}, 0
    if cfg.only == "webhooks":
        service = start(db)
        out["/healthz"] = wrk(service.url + "/healthz", cfg.duration)
        peak = max(peak, rss_kb(service.proc.pid, "VmHWM"))
        service.stop()
        return webhook_figures(cfg, seeded, scratch, run, out, peak)
    reads = {
        "first page": "/api/supporters",
        "page 1,000 rows deep": f"/api/supporters?cursor={cursor_at(db, min(1000, cfg.supporters - 20))}",
        "/supporters": "/supporters",
        "/badge.svg": "/badge.svg",
        "/api/stats": "/api/stats",
    }
    service = start(db)
    out["/healthz"] = wrk(service.url + "/healthz", cfg.duration)
    for name, path in reads.items():
        out[f"{name} (idle)"] = wrk(service.url + path, cfg.duration)
    # The same reads while ~1,000 webhooks/s are ingested (10 connections, 10 ms apart).
    trickle = events_file(scratch, cfg.trickle_events, 50_000_000 + run * 1_000_000)
    for name, path in reads.items():
        ingest = subprocess.Popen(
            ["wrk", "-t1", "-c10", f"-d{cfg.duration + 2}s", "-s", os.path.join(HERE, "webhooks.lua"),
             service.url, "--", trickle, "1", "10"], stdout=subprocess.PIPE, text=True)
        time.sleep(1)  # the trickle must be flowing before the reads are measured
        out[f"{name} (ingesting)"] = wrk(service.url + path, cfg.duration)
        ingest.wait()
    peak = max(peak, rss_kb(service.proc.pid, "VmHWM"))
    service.stop()
    os.remove(trickle)
    return webhook_figures(cfg, seeded, scratch, run, out, peak)


def webhook_figures(cfg, seeded, scratch, run, out, peak):
    """W1: webhooks one commit each, batched, and refused for their signature."""
    for label, batch in (("webhooks, one commit each", "1"), ("webhooks, batched", "64")):
        copy = os.path.join(scratch, f"run{run}-{batch}.db")
        shutil.copy(seeded, copy)
        events = events_file(scratch, cfg.webhook_events, (run * 2 + int(batch == "64")) * 10_000_000)
        service = start(copy, WEBHOOK_BATCH_MAX=batch)
        before = service.scalar("SELECT COUNT(*) FROM stripe_events")
        profiler = profile_start(cfg, service, f"{'batched' if batch != '1' else 'single'}-run{run}")
        out[label] = wrk(service.url, cfg.duration, script=os.path.join(HERE, "webhooks.lua"),
                         args=(events, "2", "0"))
        profile_finish(cfg, profiler)
        out[label]["stored"] = service.scalar("SELECT COUNT(*) FROM stripe_events") - before
        peak = max(peak, rss_kb(service.proc.pid, "VmHWM"))
        if batch == "64":
            # Refused before anything is read but the signature: the cost of a forged flood.
            forged = events_file(scratch, 2_000, 90_000_000 + run * 10_000, secret="whsec_not_ours")
            out["webhooks, bad signature"] = wrk(service.url, cfg.duration,
                                                 script=os.path.join(HERE, "webhooks.lua"),
                                                 args=(forged, "2", "0"))
            os.remove(forged)
        service.stop()
        os.remove(events)
    out["peak RSS (MiB)"] = peak / 1024
    return out


def profile_start(cfg, service, name):
    """`perf record -g` on the service for 5 s, from 1 s into the figure (first run only)."""
    if not cfg.profile or not name.endswith("run0"):
        return None
    os.makedirs(cfg.profile, exist_ok=True)
    data = os.path.join(cfg.profile, f"perf-{name}.data")
    cmd = f"sleep 1; exec perf record -g -p {service.proc.pid} -o {data} -- sleep 5"
    return subprocess.Popen(["sh", "-c", cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), data


def profile_finish(cfg, profiler):
    """Where the CPU went, by thread and by the hottest symbols of each thread."""
    if profiler is None:
        return
    proc, data = profiler
    proc.wait()
    report = lambda *args: subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", *args],
                                          capture_output=True, text=True).stdout
    with open(data[:-len(".data")] + ".txt", "w") as f:
        f.write(report("--sort", "comm", "-g", "none"))
        f.write(report("--sort", "comm,dso,sym", "-g", "none", "--percent-limit", "0.7"))


def deep_page_by_scale(cfg, scratch):
    """The deep page at each scale, with /healthz in the same run, RUNS times."""
    results = {}
    for n in cfg.scales:
        db = os.path.join(scratch, f"scale{n}.db")
        seed(db, n)
        url = f"/api/supporters?cursor={cursor_at(db, min(1000, n - 20))}"
        runs = []
        for _ in range(cfg.runs):
            service = start(db)
            runs.append((wrk(service.url + "/healthz", cfg.duration), wrk(service.url + url, cfg.duration)))
            service.stop()
        results[n] = runs
    return results


def median(runs, name, field):
    return statistics.median(r[name][field] for r in runs)


def report(cfg, runs, scales):
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    ceiling = median(runs, "/healthz", "rps")
    lines = [
        "# Benchmarks", "",
        f"`scripts/bench/run.py` on {datetime.date.today()}, commit `{commit}`: the release binary on loopback,",
        f"{cfg.supporters:,} paid supporters in the database, wrk with 2 threads and 64 connections for",
        f"{cfg.duration} s per figure, SQLite in WAL mode with `synchronous=FULL`, logs at `info`.",
        f"Machine: {os.cpu_count()} cores ({cpu}), shared with the load generator. Every figure is the",
        f"median of {cfg.runs} runs; *× healthz* is its requests/s divided by `/healthz` in the same runs",
        f"({ceiling:,.0f} req/s).", "",
        "| workload | req/s | × healthz | p50 | p99 | p99 ÷ p50 | non-2xx |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in runs[0]:
        if name == "peak RSS (MiB)":
            continue
        rps = median(runs, name, "rps")
        spread = statistics.median(r[name]["p99"] / r[name]["p50"] for r in runs)
        lines.append(f"| {name} | {rps:,.0f} | {rps / ceiling:.2f} | {median(runs, name, 'p50'):.2f} ms | "
                     f"{median(runs, name, 'p99'):.2f} ms | {spread:.1f} | {max(r[name]['errors'] for r in runs)} |")
    stored = [r[n]["stored"] for r in runs for n in r if isinstance(r[n], dict) and "stored" in r[n]]
    lines += ["", f"Every webhook is a new donation and a new ledger row, fsynced before its 200 "
              f"({min(stored):,}–{max(stored):,} committed per run and setting). A webhook with a bad "
              "signature is answered 400 (its non-2xx are every request).", ""]
    if not scales:
        return "\n".join(lines)
    lines += ["The deep page (1,000 rows in, or the last page at 1k) by the number of supporters:", "",
              "| supporters | req/s | × healthz | p99 |", "|---:|---:|---:|---:|"]
    for n, rs in scales.items():
        rps = statistics.median(page["rps"] for _, page in rs)
        ratio = statistics.median(page["rps"] / health["rps"] for health, page in rs)
        p99 = statistics.median(page["p99"] for _, page in rs)
        lines.append(f"| {n:,} | {rps:,.0f} | {ratio:.2f} | {p99:.2f} ms |")
    rss = statistics.median(r["peak RSS (MiB)"] for r in runs)
    lines += ["", f"Peak resident memory over all workloads: **{rss:.1f} MiB** (median of the runs' peaks).",
              "", "Reproduce: `scripts/bench/run.py` (needs `wrk`).", ""]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a few seconds at a small scale; writes nothing")
    parser.add_argument("--only", choices=["webhooks"], help="only /healthz and the webhook figures; writes nothing")
    parser.add_argument("--runs", type=int, help="how many runs to take the median of (default 3)")
    parser.add_argument("--binary", help="benchmark this binary instead of building the release one")
    parser.add_argument("--profile", metavar="DIR", help="perf record the webhook figures of the first run into DIR")
    cfg = parser.parse_args()
    if cfg.smoke:
        cfg.supporters, cfg.runs_default, cfg.duration, cfg.scales = 2_000, 1, 1, [1_000]
        cfg.webhook_events, cfg.trickle_events = 20_000, 2_000
    else:
        cfg.supporters, cfg.runs_default, cfg.duration, cfg.scales = 100_000, 3, 6, [1_000, 10_000, 100_000]
        cfg.webhook_events, cfg.trickle_events = 120_000, 12_000
    cfg.runs = cfg.runs or cfg.runs_default
    if cfg.binary:
        common.BINARY = os.path.abspath(cfg.binary)
    else:
        subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
        common.BINARY = os.path.join(ROOT, "target", "release", "kaffeekasse")
    scratch = tempfile.mkdtemp(prefix="kaffeekasse-bench-")
    seeded = os.path.join(scratch, "seeded.db")
    seed(seeded, cfg.supporters)
    runs = [one_run(cfg, seeded, scratch, run) for run in range(cfg.runs)]
    print(json.dumps(runs), file=sys.stderr)
    scales = {} if cfg.only else deep_page_by_scale(cfg, scratch)
    text = report(cfg, runs, scales)
    print(text)
    if not (cfg.smoke or cfg.only or cfg.binary):
        path = os.path.join(ROOT, "BENCHMARKS.md")
        # What follows the marker is written by hand (profiles, earlier figures) and kept.
        kept = open(path).read().partition(KEPT)[2] if os.path.exists(path) else ""
        with open(path, "w") as f:
            f.write(text + (f"\n{KEPT}{kept}" if kept else ""))
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
