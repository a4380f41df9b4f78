#!/usr/bin/env python3
"""Helpers for bin/bench (standard library only): seeding over the HTTP API, minting tokens,
parsing pgbench output, and writing BENCHMARKS.md from the results of one run."""

import argparse
import concurrent.futures
import http.client
import json
import os
import re
import statistics
import sys
import threading
import urllib.parse

# ------------------------------------------------------------------------------------------
# HTTP


class Client:
    """One keep-alive connection per thread."""

    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port or 80
        self.local = threading.local()

    def _conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            c = http.client.HTTPConnection(self.host, self.port, timeout=60)
            self.local.conn = c
        return c

    def call(self, method, path, body=None, token=None, expect=(200, 201)):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        data = json.dumps(body) if body is not None else None
        for attempt in range(2):
            c = self._conn()
            try:
                c.request(method, path, body=data, headers=headers)
                r = c.getresponse()
                raw = r.read()
                break
            except (http.client.HTTPException, OSError):
                self.local.conn = None
                if attempt:
                    raise
        if r.status not in expect:
            raise SystemExit(f"{method} {path}: HTTP {r.status}: {raw[:300]!r}")
        return json.loads(raw) if raw else None


def signup_or_signin(auth, email, password):
    try:
        return auth.call("POST", "/api/auth/signup", {"email": email, "password": password}, expect=(201,))
    except SystemExit as e:
        if "409" not in str(e):
            raise
        return auth.call("POST", "/api/auth/signin", {"email": email, "password": password})


def cmd_seed(a):
    auth, task = Client(a.auth), Client(a.task)
    os.makedirs(a.out, exist_ok=True)
    users = {}
    for role in ("list", "patch", "create"):
        email = f"bench-{role}@example.com"
        s = signup_or_signin(auth, email, a.password)
        users[role] = {"email": email, "id": s["user"]["id"]}
    emails = [f"bench-signin-{i:03d}@example.com" for i in range(a.signin_users)]
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda e: signup_or_signin(auth, e, a.password), emails))

    def make_tasks(role, n):
        token = auth.call("POST", "/api/auth/signin", {"email": users[role]["email"], "password": a.password})["access_token"]

        def one(i):
            body = {
                "title": f"Task {i:04d}: water the plants and answer the mail",
                "description": "Seeded by bin/bench; a description of ordinary length for a to-do item." if i % 2 else None,
            }
            return task.call("POST", "/api/tasks", body, token=token, expect=(201,))["id"]

        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            return list(ex.map(one, range(n)))

    get_ids = make_tasks("list", a.list_tasks)
    patch_ids = make_tasks("patch", a.patch_tasks)
    with open(os.path.join(a.out, "get_ids.txt"), "w") as f:
        f.write("\n".join(get_ids) + "\n")
    with open(os.path.join(a.out, "patch_ids.txt"), "w") as f:
        f.write("\n".join(patch_ids) + "\n")
    with open(os.path.join(a.out, "signin_emails.txt"), "w") as f:
        f.write("\n".join(emails) + "\n")
    state = {"users": users, "signin_emails": len(emails), "list_tasks": len(get_ids), "patch_tasks": len(patch_ids)}
    with open(os.path.join(a.out, "state.json"), "w") as f:
        json.dump(state, f, indent=1)
    print(json.dumps(state))


def cmd_token(a):
    s = Client(a.auth).call("POST", "/api/auth/signin", {"email": a.email, "password": a.password})
    print(s["access_token"])


def cmd_refresh_tokens(a):
    """Signs in n times (cycling through the sign-in users): n fresh, independent refresh chains."""
    auth = Client(a.auth)
    emails = [l.strip() for l in open(a.emails) if l.strip()]
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        sessions = list(ex.map(lambda i: auth.call("POST", "/api/auth/signin", {"email": emails[i % len(emails)], "password": a.password}), range(a.n)))
    with open(a.out, "w") as f:
        f.write("\n".join(s["refresh_token"] for s in sessions) + "\n")



# ------------------------------------------------------------------------------------------
# one load run -> one results line


def cmd_record(a):
    """Reads a load tool's output on stdin, adds the run's context, appends a JSON line."""
    text = sys.stdin.read()
    if a.kind == "wrk":
        m = re.search(r"^BENCHJSON (\{.*\})$", text, re.M)
        if not m:
            sys.stderr.write(text)
            raise SystemExit("wrk: no summary line in its output")
        r = json.loads(m.group(1))
    else:
        tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", text)
        lat = re.search(r"latency average = ([\d.]+) ms", text)
        failed = re.search(r"number of failed transactions: (\d+)", text)
        done = re.search(r"number of transactions actually processed: (\d+)", text)
        if not tps:
            sys.stderr.write(text)
            raise SystemExit("pgbench: no tps in its output")
        r = {"rps": float(tps.group(1)), "mean_ms": float(lat.group(1)) if lat else None,
             "requests": int(done.group(1)) if done else None,
             "non2xx": int(failed.group(1)) if failed else 0, "socket_errors": 0, "timeouts": 0}
    r.update({"scenario": a.scenario, "conc": int(a.conc) if a.conc.isdigit() else a.conc, "run": a.run})
    for kv in a.extra:
        k, v = kv.split("=", 1)
        try:
            r[k] = float(v) if "." in v else int(v)
        except ValueError:
            r[k] = v
    hz = r.pop("hz", 100)
    if "cpu_ticks" in r:
        ticks = r.pop("cpu_ticks")
        secs = r.get("duration_s") or r.get("wall_s") or 1
        if r.get("requests"):
            r["cpu_us_per_req"] = ticks / hz * 1e6 / r["requests"]
        r["svc_cpu_pct"] = ticks / hz / secs * 100
    if "busy_ticks" in r:
        busy, total = r.pop("busy_ticks"), r.pop("total_ticks")
        r["machine_busy_pct"] = 100.0 * busy / total if total else None
    with open(a.results, "a") as f:
        f.write(json.dumps(r) + "\n")
    bits = [f"{a.scenario:<13} c={str(a.conc):<4} run {a.run}: {r['rps']:>9.1f}/s"]
    if r.get("p50_ms") is not None:
        bits.append(f"p50 {r['p50_ms']:.2f} ms p99 {r['p99_ms']:.2f} ms")
    elif r.get("mean_ms") is not None:
        bits.append(f"mean {r['mean_ms']:.2f} ms")
    errs = (r.get("non2xx") or 0) + (r.get("socket_errors") or 0) + (r.get("timeouts") or 0) + (r.get("stale") or 0)
    bits.append(f"errors {errs}")
    if r.get("cpu_us_per_req") is not None:
        bits.append(f"cpu {r['cpu_us_per_req']:.0f} us/req")
    if r.get("machine_busy_pct") is not None:
        bits.append(f"machine busy {r['machine_busy_pct']:.0f}%")
    print("   " + ", ".join(bits))
    if errs:
        print(f"   !! {errs} errors in this run", file=sys.stderr)


# ------------------------------------------------------------------------------------------
# report


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, digits=1):
    if x is None:
        return "–"
    if isinstance(x, int):
        return f"{x:,}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def mib(kib):
    return None if kib is None else kib / 1024


def cmd_report(a):
    meta = json.load(open(a.meta))
    rows = [json.loads(l) for l in open(a.results) if l.strip()]
    by = {}
    for r in rows:
        by.setdefault((r["scenario"], r["conc"]), []).append(r)

    def agg(scn, c):
        rs = by.get((scn, c), [])
        if not rs:
            return None
        out = {"runs": len(rs), "rps_runs": [r["rps"] for r in rs]}
        for k in ("rps", "p50_ms", "p99_ms", "mean_ms", "cpu_us_per_req", "svc_cpu_pct", "machine_busy_pct", "hwm_kib", "rss_kib", "pg_clients"):
            out[k] = med([r.get(k) for r in rs])
        out["errors"] = sum((r.get("non2xx") or 0) + (r.get("socket_errors") or 0) + (r.get("timeouts") or 0) for r in rs)
        out["non2xx"] = sum(r.get("non2xx") or 0 for r in rs)
        out["requests"] = sum(r.get("requests") or 0 for r in rs)
        out["stale"] = sum(r.get("stale") or 0 for r in rs)
        out["max_hwm_kib"] = max((r.get("hwm_kib") or 0) for r in rs) or None
        return out

    def paired_ratio(scn, base, c, base_c=None):
        """Median over runs of (service rps / baseline rps) measured back to back in the same run."""
        s = {r["run"]: r["rps"] for r in by.get((scn, c), [])}
        b = {r["run"]: r["rps"] for r in by.get((base, base_c or c), [])}
        ratios = [s[k] / b[k] for k in s if k in b and b[k]]
        return (med(ratios), ratios)

    L = []
    w = L.append
    mode = meta["mode"]
    w("# Benchmarks" if mode == "full" else f"# Benchmarks ({mode} run — not for comparison)")
    w("")
    w("Written by `bin/bench` (issue 6). Everything under *Results* is regenerated by each run; the")
    w("notes after the *Notes* heading at the end are kept across runs.")
    w("")
    w("## Machine and run")
    w("")
    w(f"- Date: {meta['date']} ({meta['wall_s']:.0f} s wall-clock for the whole run)")
    w(f"- Machine: {meta['nproc']} CPUs ({meta['cpu_model']}), {meta['mem_gib']:.1f} GiB memory, kernel {meta['kernel']}")
    w(f"- Load average before the run: {meta['loadavg_before']}; machine-wide CPU busy during the load runs (median): "
      f"{fmt(med([r.get('machine_busy_pct') for r in rows]), 0)} % — the cores are shared with other engineers' builds, "
      "so absolute figures move from run to run; compare the same-run ratios.")
    w(f"- Code: `{meta['git']}`{' (working tree has uncommitted changes under ' + meta['dirty'] + ')' if meta.get('dirty') else ''}, "
      "release profile (`lto = \"thin\"`, `codegen-units = 4`)")
    w(f"- Tools: {meta['wrk_version']}; {meta['pgbench_version']}; server PostgreSQL {meta['pg_server']} "
      f"(`max_connections` {meta['pg_max_conn']}, `shared_buffers` {meta['pg_shared_buffers']})")
    w(f"- Each figure: median of {meta['runs']} runs of {meta['duration']:g} s each, load generator on the same 2 cores "
      "over 127.0.0.1, keep-alive connections; service and baseline runs interleaved run by run.")
    w(f"- Services: default settings (pool of {meta['pool']} DB connections each, log level `info` to a file, "
      "RSA-3072 RS256 tokens, argon2id m=19456 KiB t=2 p=1), except the auth-service's rate limits, which are off "
      "(`RATE_LIMIT_PER_IP=0`, `RATE_LIMIT_PER_EMAIL=0`).")
    w("")

    # ---------- targets
    lst32 = agg("task_list", 32)
    r32, _ = paired_ratio("task_list", "pgbench_list", 32)
    argon = meta["argon2"]
    si1 = agg("signin", 1)
    si_ratio = si1["p50_ms"] / argon["median_ms"] if si1 and argon.get("median_ms") else None
    idle = meta["rss_idle"]

    def verdict(ok):
        return "✅" if ok else ("❌" if ok is not None else "–")

    def lt(x, y):
        return None if x is None else x < y

    w("## Results against the issue's targets")
    w("")
    w("| target | measured | |")
    w("|---|---|---|")
    for c in meta["task_levels"]:
        rr, runs = paired_ratio("task_list", "pgbench_list", c)
        pgc = agg("pgbench_list", c)
        note = f" (pgbench capped at {int(pgc['pg_clients'])} clients)" if pgc and pgc.get("pg_clients") and pgc["pg_clients"] != c else ""
        w(f"| task list ≥ 0.5 × PostgreSQL's rate for the same query, c={c}{note} | "
          f"{fmt(rr, 2)} × (runs: {', '.join(f'{x:.2f}' for x in runs)}) | {verdict(None if rr is None else rr >= 0.5)} |")
    lst_err = sum((agg("task_list", c) or {}).get("errors", 0) for c in meta["task_levels"])
    w(f"| task list: zero errors | {lst_err} non-2xx/socket errors | {verdict(lst_err == 0)} |")
    w(f"| task list p99 < 10 ms at 32 connections | {fmt(lst32 and lst32['p99_ms'], 2)} ms | {verdict(lt(lst32 and lst32['p99_ms'], 10))} |")
    w(f"| sign-in median ≤ 1.25 × bare argon2id verify (c=1) | {fmt(si1 and si1['p50_ms'], 1)} ms / {fmt(argon.get('median_ms'), 1)} ms = "
      f"{fmt(si_ratio, 2)} × | {verdict(None if si_ratio is None else si_ratio <= 1.25)} |")
    w(f"| sign-in median < 100 ms (c=1) | {fmt(si1 and si1['p50_ms'], 1)} ms | {verdict(lt(si1 and si1['p50_ms'], 100))} |")
    for c in meta["task_levels"]:
        rr, runs = paired_ratio("task_list_metrics", "task_list", c)
        if rr is None:
            continue
        on, off = agg("task_list_metrics", c), agg("task_list", c)
        cpu = (f"; CPU {fmt(on['cpu_us_per_req'], 0)} vs {fmt(off['cpu_us_per_req'], 0)} µs/req"
               if on and off and on.get("cpu_us_per_req") and off.get("cpu_us_per_req") else "")
        w(f"| task list with metrics on (`METRICS_BIND`) ≥ 0.97 × off, c={c} | "
          f"{fmt(rr, 2)} × (runs: {', '.join(f'{x:.2f}' for x in runs)}){cpu} | {verdict(rr >= 0.97)} |")
    for c in meta["signin_levels"]:
        rr, runs = paired_ratio("signin_limited", "signin", c)
        if rr is None:
            continue
        w(f"| sign-in with the shared (Postgres) rate limits on ≥ 0.95 × off, c={c} | "
          f"{fmt(rr, 2)} × (runs: {', '.join(f'{x:.2f}' for x in runs)}) | {verdict(rr >= 0.95)} |")
    for svc in ("auth", "task"):
        w(f"| {svc}-service < 32 MiB resident idle | {fmt(mib(idle[svc]), 1)} MiB | {verdict(lt(mib(idle[svc]), 32))} |")
    for svc, scns in (("task", ("task_list", "task_get", "task_create", "task_patch")), ("auth", ("jwks",))):
        peaks = [(agg(s, 128) or {}).get("max_hwm_kib") for s in scns]
        peaks = [p for p in peaks if p]
        pk = max(peaks) if peaks else None
        w(f"| {svc}-service < 128 MiB at 128 connections (peak VmHWM) | {fmt(mib(pk), 1)} MiB | {verdict(lt(mib(pk), 128))} |")
    for svc in ("auth", "task"):
        rt = meta["ready"][svc]
        w(f"| {svc}-service ready < 1 s (warm restart; cold first start on a fresh DB in brackets) | "
          f"{fmt(rt['warm_ms'], 0)} ms ({fmt(rt['cold_ms'], 0)} ms) | {verdict(lt(rt['warm_ms'], 1000))} |")
    w("")

    # ---------- task service
    w("## Task service")
    w("")
    w(f"One user with {meta['seed']['list_tasks']} tasks for list and get; a second user with {meta['seed']['patch_tasks']} "
      "tasks for PATCH (random task per request); creates go to a third user. Bearer token (RS256, RSA-3072) on every "
      "request. `cpu µs/req` is the service process's own CPU time (user+system) per request — less sensitive to "
      "the neighbours than throughput. *Metrics on*: a second task-service process, the same binary on the same "
      "database, with `METRICS_BIND` set (every request counted and timed by route, token-cache hits counted), "
      "loaded back to back with the first at each level (each first in turn); its ratio to the first is the cost "
      "of recording metrics.")
    w("")
    w("| request | conns | req/s | p50 ms | p99 ms | non-2xx | cpu µs/req | service CPU % | peak RSS MiB |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    names = {"task_list": "`GET /api/tasks?limit=20`",
             "task_list_metrics": "`GET /api/tasks?limit=20`, metrics on", "task_get": "`GET /api/tasks/{id}`",
             "task_create": "`POST /api/tasks`", "task_patch": "`PATCH /api/tasks/{id}`"}
    for scn, label in names.items():
        for c in meta["task_levels"]:
            g = agg(scn, c)
            if not g:
                continue
            w(f"| {label} | {c} | {fmt(g['rps'], 0)} | {fmt(g['p50_ms'], 2)} | {fmt(g['p99_ms'], 2)} | {g['non2xx']} | "
              f"{fmt(g['cpu_us_per_req'], 0)} | {fmt(g['svc_cpu_pct'], 0)} | {fmt(mib(g['max_hwm_kib']), 1)} |")
    w("")

    # ---------- baselines
    w("## Baselines (same run)")
    w("")
    w("PostgreSQL's own rate for the task list's exact statement (copied from `task-service/src/db/tasks.rs`: "
      "`list_query` with the default sort and `limit + 1` rows), run by `pgbench -n -M prepared` against the "
      "same database and user; and `pgbench -S` (select-only, scale "
      f"{meta['pgbench_scale']}) for reference. pgbench runs on the same cores as the server, as wrk does.")
    w("")
    w("```sql")
    w(meta["list_sql"].strip())
    w("```")
    w("")
    w("| baseline | clients | tx/s | mean latency ms | service / baseline (paired median) |")
    w("|---|---:|---:|---:|---:|")
    for c in meta["task_levels"]:
        g = agg("pgbench_list", c)
        if g:
            rr, _ = paired_ratio("task_list", "pgbench_list", c)
            clients = int(g["pg_clients"]) if g.get("pg_clients") else c
            w(f"| list.sql | {clients}{' (for c=' + str(c) + ')' if clients != c else ''} | {fmt(g['rps'], 0)} | {fmt(g['mean_ms'], 2)} | "
              f"list: {fmt(rr, 2)} × |")
    g = agg("pgbench_list", "pool")
    if g:
        rr, _ = paired_ratio("task_list", "pgbench_list", 128, "pool")
        w(f"| list.sql at the service's pool size | {int(g['pg_clients'])} | {fmt(g['rps'], 0)} | {fmt(g['mean_ms'], 2)} | "
          f"list c=128: {fmt(rr, 2)} × |")
    for c in meta["task_levels"]:
        g = agg("pgbench_S", c)
        if g:
            clients = int(g["pg_clients"]) if g.get("pg_clients") else c
            w(f"| `pgbench -S` | {clients} | {fmt(g['rps'], 0)} | {fmt(g['mean_ms'], 2)} | |")
    w(f"| bare argon2id verify (`bench/argon2-verify`, m={argon.get('m', 0):.0f} KiB t={argon.get('t', 0):.0f} p={argon.get('p', 0):.0f}) | 1 | "
      f"{fmt(1000 / argon['median_ms'] if argon.get('median_ms') else None, 0)} | {fmt(argon.get('median_ms'), 2)} "
      f"(p10 {fmt(argon.get('p10_ms'), 2)}, p90 {fmt(argon.get('p90_ms'), 2)}) | sign-in c=1: {fmt(si_ratio, 2)} × |")
    w("")

    # ---------- auth service
    w("## Auth service")
    w("")
    w(f"Sign-in cycles through {meta['seed']['signin_emails']} users, with the rate limits off, and again against a second "
      "auth-service on the same database with them on (per IP and per account, in Postgres) but set too high to refuse "
      "anything: the difference is what the shared limiter costs. Refresh: each connection is one real "
      "rotation chain — it starts from its own freshly issued refresh token and always presents the token the "
      "previous response returned, so every request is a genuine single-use rotation and none relies on the 10 s "
      "reuse grace window (`stale` counts responses without a new token; it must be 0). wrk runs one thread per "
      "connection for this, so a thread never has two requests of one chain in flight.")
    w("")
    w("| request | conns | req/s | p50 ms | p99 ms | non-2xx | cpu µs/req | peak RSS MiB | p50 / argon2 |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for scn, label, levels in (("signin", "`POST /api/auth/signin`", meta["signin_levels"]),
                               ("signin_limited", "`POST /api/auth/signin`, rate limits on", meta["signin_levels"]),
                               ("refresh", "`POST /api/auth/refresh`", meta["signin_levels"]),
                               ("jwks", "`GET /.well-known/jwks.json`", meta["task_levels"])):
        for c in levels:
            g = agg(scn, c)
            if not g:
                continue
            extra = fmt(g["p50_ms"] / argon["median_ms"], 2) if scn.startswith("signin") and argon.get("median_ms") else ""
            if scn == "refresh":
                extra = f"stale {g['stale']}"
            w(f"| {label} | {c} | {fmt(g['rps'], 0)} | {fmt(g['p50_ms'], 2)} | {fmt(g['p99_ms'], 2)} | {g['non2xx']} | "
              f"{fmt(g['cpu_us_per_req'], 0)} | {fmt(mib(g['max_hwm_kib']), 1)} | {extra} |")
    w("")

    # ---------- memory & startup
    w("## Memory and start-up")
    w("")
    w("| | auth-service | task-service |")
    w("|---|---:|---:|")
    w(f"| ready after start, cold (fresh database: migrations{', RSA-3072 key generation' if True else ''}) | "
      f"{fmt(meta['ready']['auth']['cold_ms'], 0)} ms | {fmt(meta['ready']['task']['cold_ms'], 0)} ms |")
    w(f"| ready after start, warm restart | {fmt(meta['ready']['auth']['warm_ms'], 0)} ms | {fmt(meta['ready']['task']['warm_ms'], 0)} ms |")
    w(f"| resident idle (VmRSS after warm start) | {fmt(mib(idle['auth']), 1)} MiB | {fmt(mib(idle['task']), 1)} MiB |")
    if meta.get("rss_seeded"):
        sd = meta["rss_seeded"]
        w(f"| resident after seeding (sign-ups: argon2id hashes) | {fmt(mib(sd['auth']), 1)} MiB | {fmt(mib(sd['task']), 1)} MiB |")
    w(f"| peak resident over the whole run (VmHWM) | {fmt(mib(meta['rss_end']['auth_hwm']), 1)} MiB | {fmt(mib(meta['rss_end']['task_hwm']), 1)} MiB |")
    w(f"| resident at the end, idle again (VmRSS) | {fmt(mib(meta['rss_end']['auth_rss']), 1)} MiB | {fmt(mib(meta['rss_end']['task_rss']), 1)} MiB |")
    w("")
    w("Per-scenario peaks (the tables' *peak RSS* column) come from resetting VmHWM (`/proc/<pid>/clear_refs`) "
      "before each load run; the reset only lowers it to the memory the process already holds, so memory retained "
      "from an earlier scenario shows in every later one. The task-service's start is dominated by fetching the JWKS; the auth-service's cold "
      "start by generating its first RSA-3072 signing key.")
    w("")

    # ---------- how to run / limits
    w("## How to run")
    w("")
    w("```sh")
    w("bin/bench            # full run (~15–20 min): writes BENCHMARKS.md")
    w("bin/bench --quick    # 3 s runs: a rough picture in ~6 min, written to target/bench/BENCHMARKS.quick.md")
    w("bin/bench --smoke    # ~25 s, 1 s of each scenario: checks the pipeline works (CI); target/bench/BENCHMARKS.smoke.md")
    w("bin/bench --help     # options: --runs N, --duration S, --no-build, --keep-db, --out FILE")
    w("bench/experiments    # after a build: decompose the task list's CPU cost per request and profile it with perf (~6 min)")
    w("```")
    w("")
    w("It installs `wrk` (and PostgreSQL with `pgbench`) from Debian's packages when missing, builds both services "
      "and `bench/argon2-verify` in release mode, creates a fresh database on the local server (dropped at the "
      "end), starts the services on free ports, seeds over the HTTP API and drives every scenario with wrk. "
      "Raw per-run figures: `target/bench/results.jsonl`; service logs in `target/bench/`.")
    w("")
    w("## What limits it")
    w("")
    w("- **Two cores for everything.** wrk, both services, PostgreSQL and pgbench share them (plus other "
      "engineers' builds). A service figure is therefore the service's share of 2 cores, not a per-core rate; the "
      "paired ratios against pgbench, which suffers the same handicap, are the comparable numbers.")
    w("- **Sign-in is argon2id by design**: ~%s ms of one core per attempt, so about %s sign-ins/s on 2 cores "
      "whatever the concurrency; more clients only queue (bounded by `MAX_CONCURRENT_HASHES`, default 2 × CPUs)."
      % (fmt(argon.get("median_ms"), 0), fmt(2000 / argon["median_ms"] if argon.get("median_ms") else None, 0)))
    w(f"- **The pool**: {meta['pool']} connections per service. At 128 HTTP connections requests queue for a DB "
      "connection; the `list.sql at the service's pool size` row shows what PostgreSQL does with that many clients.")
    w(f"- **`max_connections` = {meta['pg_max_conn']}** on the shared server: pgbench cannot open 128 clients; its "
      "client count is capped to what is free (the table says so), which favours the baseline little — "
      "PostgreSQL on 2 cores saturates long before 64 clients.")
    w("")

    notes = ""
    if a.keep_notes and os.path.exists(a.keep_notes):
        old = open(a.keep_notes).read()
        i = old.find("\n## Notes")
        if i >= 0:
            notes = old[i + 1:]
    if not notes:
        notes = "## Notes\n\n(Profiles and the effect of each optimisation go here; bin/bench keeps this section.)\n"
    L.append(notes.rstrip("\n"))
    with open(a.out, "w") as f:
        f.write("\n".join(L) + "\n")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--auth", required=True)
    s.add_argument("--task", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--password", required=True)
    s.add_argument("--list-tasks", type=int, default=1000)
    s.add_argument("--patch-tasks", type=int, default=1000)
    s.add_argument("--signin-users", type=int, default=32)
    s.set_defaults(f=cmd_seed)
    s = sub.add_parser("token")
    s.add_argument("--auth", required=True)
    s.add_argument("--email", required=True)
    s.add_argument("--password", required=True)
    s.set_defaults(f=cmd_token)
    s = sub.add_parser("refresh-tokens")
    s.add_argument("--auth", required=True)
    s.add_argument("--emails", required=True)
    s.add_argument("--password", required=True)
    s.add_argument("--n", type=int, required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(f=cmd_refresh_tokens)
    s = sub.add_parser("record")
    s.add_argument("--kind", choices=("wrk", "pgbench"), required=True)
    s.add_argument("--results", required=True)
    s.add_argument("--scenario", required=True)
    s.add_argument("--conc", required=True)
    s.add_argument("--run", type=int, required=True)
    s.add_argument("extra", nargs="*")
    s.set_defaults(f=cmd_record)
    s = sub.add_parser("report")
    s.add_argument("--results", required=True)
    s.add_argument("--meta", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--keep-notes")
    s.set_defaults(f=cmd_report)
    a = p.parse_args()
    a.f(a)


if __name__ == "__main__":
    main()
