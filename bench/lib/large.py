#!/usr/bin/env python3
"""bin/bench-large's driver (standard library only): the same requests measured on small data and
again after loading a million users and ten million tasks, with the query plans.

Steps (each a subcommand, so bin/bench-large can run the services in between):
  small    seed over the HTTP API: the list user (1,000 tasks), sign-in users; write state.json
  measure  wrk each scenario (median p50 of RUNS runs) -> results-<label>.json
  load     COPY-speed bulk load in SQL: 1M users (auth.users) and 10M tasks (tasks.tasks), one of
           them (the search user) with 100,000; indexes dropped during the load and rebuilt
  explain  EXPLAIN (ANALYZE, BUFFERS) of each scenario's statement -> plans.txt
  report   the markdown section for BENCHMARKS.md
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import Client, signup_or_signin  # noqa: E402

PASSWORD = "bench-Passw0rd-7f3k"
WRK_DIR = os.path.join(os.path.dirname(__file__), "..", "wrk")


def state_path(work):
    return os.path.join(work, "state.json")


def cmd_small(a):
    auth, tasks = Client(a.auth), Client(a.task)
    s = signup_or_signin(auth, "large-list@example.com", PASSWORD)
    token = s["access_token"]
    for i in range(1, a.list_tasks + 1):
        # As the bulk load writes them: every 100th is about an invoice (what search looks for).
        title = f"pay invoice {i}" if i % 100 == 0 else f"task {i} errand"
        tasks.call("POST", "/api/tasks", {"title": title, "description": "small seed"}, token)
    signin = []
    for i in range(8):
        email = f"large-signin-{i}@example.com"
        signup_or_signin(auth, email, PASSWORD)
        signin.append(email)
    with open(os.path.join(a.work, "signin-emails.txt"), "w") as f:
        f.write("\n".join(signin) + "\n")
    # Creates go to a user of their own, so that the list user keeps its 1,000 tasks for the
    # large run's list and search figures.
    signup_or_signin(auth, "large-create@example.com", PASSWORD)
    st = {"list_user": s["user"]["id"], "list_email": "large-list@example.com",
          "create_email": "large-create@example.com"}
    json.dump(st, open(state_path(a.work), "w"))


def token(auth_url, email):
    return Client(auth_url).call("POST", "/api/auth/signin", {"email": email, "password": PASSWORD})["access_token"]


def deep_cursor(tasks, tok, depth, page=100):
    """The cursor of the page that starts `depth` tasks in, walking there page by page."""
    cursor, seen = None, 0
    while seen < depth:
        q = {"limit": str(page)}
        if cursor:
            q["cursor"] = cursor
        body = tasks.call("GET", "/api/tasks?" + urllib.parse.urlencode(q), token=tok)
        seen += len(body["items"])
        cursor = body.get("next_cursor")
        if not cursor:
            break
    return cursor


def wrk(url, script, conc, duration, headers, args=()):
    cmd = ["wrk", "-t", str(min(conc, 2)), "-c", str(conc), "-d", f"{duration}s", "--latency", "-s", script]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(url)
    if args:
        cmd += ["--", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "BENCH_WRK_DIR": WRK_DIR}).stdout
    line = next((l for l in out.splitlines() if l.startswith("BENCHJSON ")), None)
    if not line:
        raise SystemExit(f"wrk gave no result for {url}: {out[-500:]}")
    return json.loads(line[len("BENCHJSON "):])


def cmd_measure(a):
    st = json.load(open(state_path(a.work)))
    tasks = Client(a.task)
    list_tok = token(a.auth, st["list_email"])
    search_email = st.get("search_email", st["list_email"])
    search_tok = token(a.auth, search_email)
    search_n = st.get("search_tasks", a.small_tasks)
    deep = deep_cursor(tasks, search_tok, search_n // 2)
    create_tok = token(a.auth, st.get("create_email", st["list_email"]))
    auth_h = [f"Authorization: Bearer {list_tok}"]
    search_h = [f"Authorization: Bearer {search_tok}"]
    static = os.path.join(WRK_DIR, "static.lua")
    scenarios = {
        "signin": (a.auth + "/api/auth/signin", os.path.join(WRK_DIR, "signin.lua"), [],
                   (os.path.join(a.work, "signin-emails.txt"), PASSWORD)),
        "list_first_page": (a.task + "/api/tasks?limit=50", static, auth_h, ()),
        "list_deep_page": (a.task + "/api/tasks?" + urllib.parse.urlencode({"limit": 50, "cursor": deep}),
                           static, search_h, ()),
        "search_q": (a.task + "/api/tasks?" + urllib.parse.urlencode({"q": a.search, "limit": 50}),
                     static, search_h, ()),
        # The same search by the list user (1,000 tasks, ten matches) on both sizes: what the
        # rest of the table costs a search that itself does not grow.
        "search_q_1k_user": (a.task + "/api/tasks?" + urllib.parse.urlencode({"q": a.search, "limit": 50}),
                             static, auth_h, ()),
        "compat_list": (a.task + f"/api/{st['list_user']}/tasks", static, auth_h, ()),
        # Last, and as a user of its own: it adds thousands of tasks.
        "create": (a.task + "/api/tasks", os.path.join(WRK_DIR, "create.lua"),
                   [f"Authorization: Bearer {create_tok}"], ()),
    }
    results = {}
    for name, (url, script, headers, args) in scenarios.items():
        if a.only and name not in a.only.split(","):
            continue
        runs = [wrk(url, script, a.conc, a.duration, headers, args) for _ in range(a.runs)]
        errors = sum(r["non2xx"] + r["socket_errors"] + r["timeouts"] for r in runs)
        results[name] = {
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "rps": statistics.median(r["rps"] for r in runs),
            "errors": errors,
        }
        print(f"   {a.label:5} {name:16} p50 {results[name]['p50_ms']:8.2f} ms  "
              f"{results[name]['rps']:8.0f} req/s  errors {errors}", flush=True)
    json.dump(results, open(os.path.join(a.work, f"results-{a.label}.json"), "w"), indent=1)


def psql(db, sql, capture=False):
    r = subprocess.run(["psql", db, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"psql failed: {r.stderr}\n{sql[:500]}")
    return r.stdout


LOAD_SQL = """
-- Users: as sign-up writes them, with the list user's real password hash.
INSERT INTO auth.users (id, email, name, password_hash)
SELECT gen_random_uuid(), 'bulk-' || g || '@example.com', NULL,
       (SELECT password_hash FROM auth.users WHERE email = 'large-list@example.com')
  FROM generate_series(1, {users}) AS g;
-- The search user (its tasks come with the bulk tasks).
INSERT INTO auth.users (id, email, password_hash)
SELECT gen_random_uuid(), 'large-search@example.com',
       (SELECT password_hash FROM auth.users WHERE email = 'large-list@example.com');
"""

TASKS_SQL = """
-- seq: each user's tasks numbered in creation order (g = 1 is the newest), as inserts number them.
INSERT INTO tasks.tasks (id, user_id, title, description, completed, created_at, updated_at, completed_at, seq)
SELECT gen_random_uuid(), u.id,
       CASE WHEN g % 100 = 0 THEN 'pay invoice ' || g ELSE 'task ' || g || ' ' || md5(g::text) END,
       CASE WHEN g % 3 = 0 THEN 'generated for the large benchmark' END,
       g % 4 = 0,
       now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval,
       CASE WHEN g % 4 = 0 THEN now() END, {per} - g
  FROM {source} AS u, generate_series(1, {per}) AS g;
"""


def cmd_load(a):
    db = a.db
    # Eleven users exist already (the list user, the create user, eight sign-in users, and the
    # search user made here).
    bulk_users = a.users - 11
    with_tasks = (a.tasks - a.search_tasks) // 10
    print(f"   users: {bulk_users:,} more (10 tasks each for {with_tasks:,} of them)", flush=True)
    psql(db, LOAD_SQL.format(users=bulk_users))
    search_id = psql(db, "SELECT id FROM auth.users WHERE email = 'large-search@example.com'").strip()
    # Numbered, so the task load goes in batches (the task-service never reads auth.users: the
    # ids only ever reach it in tokens; this table is the benchmark's own and is dropped after).
    psql(db, "CREATE TABLE public.bench_bulk AS SELECT row_number() OVER () AS n, id FROM auth.users "
             "WHERE email LIKE 'bulk-%'; CREATE UNIQUE INDEX ON public.bench_bulk (n)")
    indexes = psql(db, "SELECT indexname || '|' || indexdef FROM pg_indexes WHERE schemaname = 'tasks' "
                       "AND tablename = 'tasks' AND indexname <> 'tasks_pkey'").split("\n")
    indexes = [i.split("|", 1) for i in indexes if i]
    print(f"   dropping {len(indexes)} secondary indexes for the load", flush=True)
    for name, _ in indexes:
        psql(db, f"DROP INDEX tasks.{name}")
    batch = 100_000
    for start in range(0, with_tasks, batch):
        src = f"(SELECT id FROM public.bench_bulk WHERE n > {start} AND n <= {min(start + batch, with_tasks)})"
        psql(db, "SET synchronous_commit = off; " + TASKS_SQL.format(source=src, per=10))
        print(f"     {min(start + batch, with_tasks):,} users' tasks loaded", flush=True)
    psql(db, TASKS_SQL.format(source=f"(SELECT '{search_id}'::uuid AS id)", per=a.search_tasks))
    psql(db, "DROP TABLE public.bench_bulk")
    for name, definition in indexes:
        print(f"   rebuilding {name}", flush=True)
        psql(db, f"SET maintenance_work_mem = '512MB'; {definition}")
    psql(db, "INSERT INTO tasks.task_counts (user_id, tasks, next_seq, last_created_at) "
             "SELECT user_id, count(*), max(seq) + 1, max(created_at) FROM tasks.tasks GROUP BY user_id "
             "ON CONFLICT (user_id) DO UPDATE SET tasks = excluded.tasks, next_seq = excluded.next_seq, "
             "last_created_at = excluded.last_created_at")
    psql(db, "VACUUM ANALYZE tasks.tasks")
    psql(db, "VACUUM ANALYZE tasks.task_counts")
    psql(db, "VACUUM ANALYZE auth.users")
    total = psql(db, "SELECT count(*) FROM tasks.tasks").strip()
    nusers = psql(db, "SELECT count(*) FROM auth.users").strip()
    size = psql(db, "SELECT pg_size_pretty(pg_total_relation_size('tasks.tasks'))").strip()
    st = json.load(open(state_path(a.work)))
    st.update({"search_email": "large-search@example.com", "search_user": search_id,
               "search_tasks": a.search_tasks, "total_tasks": int(total), "total_users": int(nusers),
               "tasks_size": size})
    json.dump(st, open(state_path(a.work), "w"))
    print(f"   loaded: {int(nusers):,} users, {int(total):,} tasks ({size} with indexes)", flush=True)


def cmd_explain(a):
    st = json.load(open(state_path(a.work)))
    uid, sid = st["list_user"], st.get("search_user", st["list_user"])
    cols = "id, user_id, title, description, completed, created_at, updated_at, completed_at"
    mid = psql(a.db, f"SELECT created_at || '|' || id FROM tasks.tasks WHERE user_id = '{sid}' "
                     f"ORDER BY created_at, id OFFSET {st.get('search_tasks', 1000) // 2} LIMIT 1").strip()
    at, mid_id = mid.split("|")

    def search(user):
        # As db::tasks::build_search writes it, newest first as the API's default: the user's
        # buckets from the newest down, each bucket's matches from the search index, stopping
        # once the page is full.
        return (f"SELECT {cols} FROM generate_series("
                f"(SELECT seq >> 12 FROM tasks.tasks WHERE user_id = '{user}' ORDER BY created_at DESC, id DESC LIMIT 1), "
                f"(SELECT seq >> 12 FROM tasks.tasks WHERE user_id = '{user}' ORDER BY created_at ASC, id ASC LIMIT 1), -1) AS b(n) "
                f"CROSS JOIN LATERAL (SELECT {cols} FROM tasks.tasks "
                f"WHERE (user_id::text || ':' || (seq >> 12)::text) = ('{user}'::uuid::text || ':' || b.n::text) "
                f"AND lower(title || E'\\x1f' || coalesce(description, '')) LIKE lower('%{a.search}%') "
                f"ORDER BY created_at DESC, id DESC LIMIT 51) AS t LIMIT 51")

    queries = {
        "list first page (the list user)":
            f"SELECT {cols} FROM tasks.tasks WHERE user_id = '{uid}' ORDER BY created_at, id LIMIT 51",
        "list a deep page by cursor (the search user, half-way)":
            f"SELECT {cols} FROM tasks.tasks WHERE user_id = '{sid}' AND (created_at, id) > "
            f"('{at}', '{mid_id}') ORDER BY created_at, id LIMIT 51",
        f"search q={a.search!r} (the search user)": search(sid),
        f"search q={a.search!r} (the list user, 1,000 tasks)": search(uid),
        "compat list (the list user, capped)":
            f"SELECT {cols} FROM tasks.tasks WHERE user_id = '{uid}' ORDER BY created_at, id LIMIT 1001",
        "sign-in lookup":
            "SELECT id FROM auth.users WHERE lower(normalize(email, NFC)) = "
            "lower(normalize('large-signin-3@example.com', NFC))",
    }
    with open(os.path.join(a.work, "plans.txt"), "w") as f:
        for title, q in queries.items():
            plan = psql(a.db, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) " + q)
            f.write(f"-- {title}\n{plan}\n")
    print(open(os.path.join(a.work, "plans.txt")).read())


def cmd_report(a):
    small = json.load(open(os.path.join(a.work, "results-small.json")))
    large = json.load(open(os.path.join(a.work, "results-large.json")))
    st = json.load(open(state_path(a.work)))
    rows = []
    worst = 0.0
    for name in small:
        s, l = small[name], large[name]
        ratio = l["p50_ms"] / s["p50_ms"] if s["p50_ms"] else float("inf")
        worst = max(worst, ratio)
        rows.append(f"| {name} | {s['p50_ms']:.2f} | {l['p50_ms']:.2f} | **{ratio:.2f}×** | "
                    f"{s['rps']:.0f} → {l['rps']:.0f} | {s['errors'] + l['errors']} |")
    plans = open(os.path.join(a.work, "plans.txt")).read()
    print("\n".join([
        f"Loaded: {st['total_users']:,} users and {st['total_tasks']:,} tasks "
        f"(`tasks.tasks` {st['tasks_size']} with its indexes); the search user holds "
        f"{st['search_tasks']:,} tasks. wrk at {a.conc} connections, median p50 of {a.runs} runs of {a.duration} s.",
        "",
        "| scenario | p50 small (ms) | p50 large (ms) | large / small | req/s | errors |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Worst ratio: {worst:.2f}× (target: every p50 within 1.5×).",
        "",
        "<details><summary>EXPLAIN (ANALYZE, BUFFERS) on the large data</summary>",
        "",
        "```",
        plans.rstrip(),
        "```",
        "</details>",
    ]))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("small", "measure", "load", "explain", "report"):
        s = sub.add_parser(name)
        s.add_argument("--work", required=True)
        s.add_argument("--auth")
        s.add_argument("--task")
        s.add_argument("--db")
        s.add_argument("--label", default="small")
        s.add_argument("--list-tasks", type=int, default=1000)
        s.add_argument("--small-tasks", type=int, default=1000)
        s.add_argument("--users", type=int, default=1_000_000)
        s.add_argument("--tasks", type=int, default=10_000_000)
        s.add_argument("--search-tasks", type=int, default=100_000)
        s.add_argument("--search", default="invoice")
        s.add_argument("--conc", type=int, default=4)
        s.add_argument("--duration", type=int, default=5)
        s.add_argument("--runs", type=int, default=3)
        s.add_argument("--only", help="measure: these scenarios only (comma-separated)")
    a = p.parse_args()
    {"small": cmd_small, "measure": cmd_measure, "load": cmd_load, "explain": cmd_explain,
     "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()
