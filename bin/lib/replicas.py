"""bin/test-replicas's client: the cross-replica checks and the load runs (Python 3 standard
library only).

    python3 replicas.py checks --auth-lb URL --task-lb URL --auth A,B --task A,B
                               --reuse-grace S --email-limit N
    python3 replicas.py load --auth-lb URL --task-lb URL --stats URL --action kill|term
                             --pids PID,PID --servers BACKEND/SERVER,... --seconds S --act-at S
                             [--workers N] [--shutdown-delay S] [--json FILE]

Every check prints one `PASS - ...` or `FAIL - ...` line; the exit status is 1 if any failed.
"""

import argparse
import base64
import csv
import http.client
import io
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
import uuid

PASSWORD = "correct horse battery staple, replicas"
# After a kill -9, how soon any failure must have started (HAProxy's first health check that
# could notice comes 500 ms later).
INSTANT = 0.25
failures = 0


def check(ok, what):
    global failures
    print(f"{'PASS' if ok else 'FAIL'} - {what}", flush=True)
    if not ok:
        failures += 1
    return ok


class Http:
    """One keep-alive connection to one base URL (reopened after an error or a close)."""

    def __init__(self, base, timeout=10.0):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.timeout = timeout
        self.conn = None

    def call(self, method, path, body=None, token=None):
        """(status, json body or None, headers); raises OSError / HTTPException on failure."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            res = self.conn.getresponse()
            raw = res.read()
        except Exception:
            self.close()
            raise
        if res.will_close:
            self.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return res.status, parsed, dict(res.getheaders())

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def call(base, method, path, body=None, token=None):
    return Http(base).call(method, path, body, token)


def header_of(token):
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


def claims_of(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def new_email(tag):
    return f"replicas-{tag}-{uuid.uuid4().hex[:12]}@example.com"


def signup(base, tag):
    email = new_email(tag)
    status, body, _ = call(base, "POST", "/api/auth/signup", {"email": email, "password": PASSWORD})
    if status != 201:
        raise SystemExit(f"sign-up at {base} answered {status}: {body}")
    return email, body


def signin(base, email):
    status, body, _ = call(base, "POST", "/api/auth/signin", {"email": email, "password": PASSWORD})
    if status != 200:
        raise SystemExit(f"sign-in at {base} answered {status}: {body}")
    return body


def refused_within(bases, token, seconds):
    """Every task replica in `bases` answers 401 to `token` within `seconds`: the time it took."""
    start = time.monotonic()
    pending = set(bases)
    while pending and time.monotonic() - start < seconds:
        for base in list(pending):
            status, _, _ = call(base, "GET", "/api/tasks?limit=1", token=token)
            if status == 401:
                pending.discard(base)
        if pending:
            time.sleep(0.1)
    return None if pending else time.monotonic() - start


# ---- the cross-replica checks -------------------------------------------------------------------


def checks(a):
    auth_a, auth_b = a.auth.split(",")
    task_a, task_b = a.task.split(",")

    # Every replica signs with the same keys.
    jwks = [call(b, "GET", "/.well-known/jwks.json")[1] for b in (auth_a, auth_b)]
    kids = [sorted(k["kid"] for k in j["keys"]) for j in jwks]
    check(
        kids[0] and jwks[0] == jwks[1], f"both auth replicas publish the same JWKS (kids {kids[0]})"
    )

    email, _ = signup(a.auth_lb, "keys")
    from_a = signin(auth_a, email)
    from_b = signin(auth_b, email)
    ka, kb = header_of(from_a["access_token"])["kid"], header_of(from_b["access_token"])["kid"]
    check(
        ka == kb and [ka] == kids[0],
        "tokens minted by auth A and auth B carry the same kid, the one published",
    )
    issuer = claims_of(from_a["access_token"])["iss"]
    check(issuer == a.auth_lb, f"tokens' iss is the load balancer's address ({issuer})")

    # Any replica verifies any token.
    ok = True
    for minted, token in (("A", from_a["access_token"]), ("B", from_b["access_token"])):
        for name, base in (("task A", task_a), ("task B", task_b)):
            status, _, _ = call(base, "POST", "/api/tasks", {"title": f"minted by {minted}"}, token)
            ok &= check(
                status == 201,
                f"a token minted by auth {minted} is accepted by {name} (POST /api/tasks {status})",
            )
        status, _, _ = call(auth_b if minted == "A" else auth_a, "GET", "/api/auth/me", token=token)
        ok &= check(
            status == 200,
            f"a token minted by auth {minted} is accepted by the other auth replica (GET /api/auth/me {status})",
        )
    status, body, _ = call(a.task_lb, "GET", "/api/tasks?limit=10", token=from_b["access_token"])
    titles = sorted(t["title"] for t in (body or {}).get("items", []))
    check(
        status == 200 and titles.count("minted by A") == 2 and titles.count("minted by B") == 2,
        f"through the task load balancer the user sees all four tasks ({titles})",
    )

    # A refresh rotated on A, the old token reused on B after the grace window: refused, session gone.
    session = signin(auth_a, email)
    old = session["refresh_token"]
    status, rotated, _ = call(auth_a, "POST", "/api/auth/refresh", {"refresh_token": old})
    check(
        status == 200 and rotated and rotated.get("refresh_token") not in (None, old),
        f"refresh rotated on auth A ({status})",
    )
    # A second tab refreshing at once, through the other replica: honoured, a fresh successor.
    status, newest, _ = call(auth_b, "POST", "/api/auth/refresh", {"refresh_token": old})
    check(
        status == 200,
        f"within the grace window ({a.reuse_grace} s) auth B honours the old token ({status})",
    )
    newest = newest or {}
    time.sleep(a.reuse_grace + 1)
    status, body, _ = call(auth_b, "POST", "/api/auth/refresh", {"refresh_token": old})
    check(
        status == 401 and (body or {}).get("code") == "invalid_token",
        f"after the grace window the old token reused on auth B is refused ({status} {(body or {}).get('code')})",
    )
    status, _, _ = call(
        auth_a, "POST", "/api/auth/refresh", {"refresh_token": newest.get("refresh_token", "")}
    )
    check(
        status == 401,
        f"the reuse revoked the whole session: its newest refresh token is refused on auth A ({status})",
    )
    took = refused_within([task_a, task_b], newest.get("access_token", ""), 5)
    check(
        took is not None,
        f"the reused session's access token is refused by both task replicas within 5 s ({took and f'{took:.1f} s'})",
    )

    # Sign-out on A: the session's access token refused by both task replicas within 5 s.
    session = signin(auth_b, email)
    token = session["access_token"]
    both = [call(b, "GET", "/api/tasks?limit=1", token=token)[0] for b in (task_a, task_b)]
    check(both == [200, 200], f"a new session's token works on both task replicas ({both})")
    status, _, _ = call(
        auth_a, "POST", "/api/auth/signout", {"refresh_token": session["refresh_token"]}
    )
    check(status == 204, f"that session (signed in on auth B) signed out on auth A ({status})")
    took = refused_within([task_a, task_b], token, 5)
    check(
        took is not None,
        f"its access token is refused by both task replicas within 5 s ({took and f'{took:.1f} s'})",
    )
    status, _, _ = call(auth_b, "GET", "/api/auth/me", token=token)
    check(status == 401, f"and by auth B ({status})")

    # One rate-limit budget: failed sign-ins split across A and B meet 429 at the shared count.
    target = new_email("limited")
    statuses = []
    for i in range(a.email_limit + 2):
        base = (auth_a, auth_b)[i % 2]
        status, _, _ = call(
            base, "POST", "/api/auth/signin", {"email": target, "password": "wrong password, sorry"}
        )
        statuses.append(status)
    want = [401] * a.email_limit + [429, 429]
    check(
        statuses == want,
        f"RATE_LIMIT_PER_EMAIL={a.email_limit}: sign-ins alternating auth A and B are refused 429 from attempt "
        f"{a.email_limit + 1} on ({statuses})",
    )
    return 1 if failures else 0


# ---- load ---------------------------------------------------------------------------------------


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []  # (start, end, kind, ok, detail)

    def add(self, *row):
        with self.lock:
            self.requests.append(row)


def worker(n, auth_lb, task_lb, token, deadline, rec, created):
    auth, tasks = Http(auth_lb), Http(task_lb)
    i = 0
    while time.monotonic() < deadline:
        i += 1
        for kind, conn, method, path, body, want in (
            ("create", tasks, "POST", "/api/tasks", {"title": f"w{n}-{i}"}, 201),
            ("list", tasks, "GET", "/api/tasks?limit=20", None, 200),
            ("me", auth, "GET", "/api/auth/me", None, 200),
        ):
            t0 = time.monotonic()
            try:
                status, parsed, _ = conn.call(method, path, body, token)
                ok, detail = status == want, str(status)
                if ok and kind == "create":
                    created.append(parsed["id"])
            except Exception as e:  # a reset or closed connection is a failed request
                ok, detail = False, type(e).__name__
            rec.add(t0, time.monotonic(), kind, ok, detail)
    auth.close()
    tasks.close()


def server_states(stats):
    """{'backend/server': status} of every server (not frontends or backends) from HAProxy's CSV
    statistics: UP, 'UP 1/2' (failing checks), DOWN, 'DOWN 1/2' (passing again), ..."""
    u = urllib.parse.urlsplit(stats)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=2)
    try:
        conn.request("GET", u.path + ";csv")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
    return {
        f"{r['pxname']}/{r['svname']}": r["status"]
        for r in rows
        if r["svname"] not in ("FRONTEND", "BACKEND")
    }


def load(a):
    pids = [int(p) for p in a.pids.split(",")]
    servers = a.servers.split(",")
    sig = signal.SIGKILL if a.action == "kill" else signal.SIGTERM
    states = server_states(a.stats)
    check(
        all(s in states for s in servers) and all(v == "UP" for v in states.values()),
        f"HAProxy sees every replica UP before the run ({', '.join(f'{k} {v}' for k, v in sorted(states.items()))})",
    )

    users = [signup(a.auth_lb, f"load{n}")[1]["access_token"] for n in range(a.workers)]
    rec, created = Recorder(), [[] for _ in range(a.workers)]
    start = time.monotonic()
    deadline = start + a.seconds
    threads = [
        threading.Thread(
            target=worker, args=(n, a.auth_lb, a.task_lb, users[n], deadline, rec, created[n])
        )
        for n in range(a.workers)
    ]
    for t in threads:
        t.start()

    # The action, then HAProxy's view every 50 ms until each target is DOWN.
    time.sleep(a.act_at)
    acted = time.monotonic()
    for pid in pids:
        os.kill(pid, sig)
    down = {}
    while time.monotonic() < deadline and len(down) < len(servers):
        try:
            states = server_states(a.stats)
        except OSError:
            states = {}
        for s in servers:
            if s not in down and states.get(s, "").startswith("DOWN"):
                down[s] = time.monotonic()
        time.sleep(0.05)
    for t in threads:
        t.join()

    rows = rec.requests
    failed = [r for r in rows if not r[3]]
    noticed = max(down.values()) if len(down) == len(servers) else None
    in_flight = [r for r in rows if r[0] <= acted <= r[1]]
    failed_in_flight = [r for r in failed if r[0] <= acted]
    # Failed but started after the signal: sent on a kept-alive connection to the dead replica
    # before HAProxy had seen it close, so lost at the instant of the kill like those in flight
    # (HAProxy then closes the client's connection, on which a client may retry, rather than
    # answering 502). Later than INSTANT after the kill, a failure would be HAProxy's doing.
    just_after = [r for r in failed if r[0] > acted]
    late = [r for r in failed if r[0] > acted + INSTANT]
    after_notice = [r for r in failed if noticed is not None and r[0] >= noticed]

    # No data lost: every create answered 201 is in its user's list.
    lost = 0
    for n, token in enumerate(users):
        ids, cursor = set(), None
        http_conn = Http(a.task_lb)
        while True:
            path = "/api/tasks?limit=200" + (
                f"&cursor={urllib.parse.quote(cursor)}" if cursor else ""
            )
            status, body, _ = http_conn.call("GET", path, token=token)
            if status != 200:
                raise SystemExit(f"listing after the run answered {status}: {body}")
            ids.update(t["id"] for t in body["items"])
            cursor = body.get("next_cursor")
            if not cursor:
                break
        http_conn.close()
        lost += len(set(created[n]) - ids)
    creates = sum(len(c) for c in created)

    by_kind = {}
    for r in rows:
        by_kind.setdefault(r[2], [0, 0])
        by_kind[r[2]][0] += 1
        by_kind[r[2]][1] += 0 if r[3] else 1
    marks = {s: round((t - acted) * 1000) for s, t in sorted(down.items())}
    summary = {
        "action": a.action,
        "seconds": a.seconds,
        "workers": a.workers,
        "requests": len(rows),
        "requests_per_second": (
            round(len(rows) / (max(r[1] for r in rows) - start), 1) if rows else 0
        ),
        "by_kind": {k: {"requests": v[0], "failed": v[1]} for k, v in sorted(by_kind.items())},
        "failed": len(failed),
        "in_flight_at_action": len(in_flight),
        "failed_in_flight": len(failed_in_flight),
        "failed_started_after_action": len(just_after),
        "latest_failure_after_action_ms": round(
            max((r[0] - acted for r in failed), default=0) * 1000
        ),
        "failed_after_lb_noticed": len(after_notice),
        "mark_down_ms": marks,
        "creates_answered_201": creates,
        "creates_lost": lost,
        "failures": [
            {
                "at_ms": round((r[0] - acted) * 1000),
                "took_ms": round((r[1] - r[0]) * 1000),
                "kind": r[2],
                "detail": r[4],
            }
            for r in failed
        ],
    }
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=2)

    what = "kill -9" if a.action == "kill" else "SIGTERM"
    print(
        f"     {len(rows)} requests in {a.seconds:g} s ({summary['requests_per_second']}/s, {a.workers} clients: "
        f"{', '.join(f'{k} {v[0]}' for k, v in sorted(by_kind.items()))}); {what} at {a.act_at:g} s",
        flush=True,
    )
    print(
        f"     failed: {len(failed)} ({', '.join(f'{k} {v[1]}' for k, v in sorted(by_kind.items()))}); "
        f"in flight at the {what}: {len(in_flight)}; HAProxy marked down after "
        f"{', '.join(f'{s} {ms} ms' for s, ms in marks.items()) or 'never'}",
        flush=True,
    )
    for f in summary["failures"][:10]:
        print(
            f"     failure: {f['kind']} started {f['at_ms']} ms after the {what}, took {f['took_ms']} ms: {f['detail']}"
        )
    check(noticed is not None, f"HAProxy marked {', '.join(servers)} DOWN ({marks})")
    if a.action == "kill":
        check(
            not late,
            f"only requests lost at the instant of the kill failed: {len(failed_in_flight)} in flight "
            f"(of {len(in_flight)}), {len(just_after)} sent within "
            f"{summary['latest_failure_after_action_ms']} ms after it on connections HAProxy had not "
            f"yet seen close; none from {INSTANT * 1000:g} ms on ({len(late)})",
        )
        check(
            noticed is not None and not after_notice,
            f"no request failed once HAProxy had marked the killed replicas down ({len(after_notice)})",
        )
    else:
        check(
            not failed,
            f"SIGTERM during traffic fails no request ({len(failed)} of {len(rows)} failed)",
        )
        slowest = max(marks.values()) if marks else None
        check(
            slowest is not None and slowest < a.shutdown_delay * 1000,
            f"HAProxy took them out ({slowest} ms) before they stopped listening (SHUTDOWN_DELAY_MS {a.shutdown_delay * 1000:g})",
        )
    check(
        creates > 0 and lost == 0,
        f"no data lost: all {creates} tasks answered 201 are listed ({lost} missing)",
    )
    return 1 if failures else 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("checks")
    c.add_argument("--auth-lb", required=True)
    c.add_argument("--task-lb", required=True)
    c.add_argument("--auth", required=True, help="auth replica A and B, comma-separated base URLs")
    c.add_argument("--task", required=True, help="task replica A and B, comma-separated base URLs")
    c.add_argument("--reuse-grace", type=int, required=True)
    c.add_argument("--email-limit", type=int, required=True)
    l = sub.add_parser("load")
    l.add_argument("--auth-lb", required=True)
    l.add_argument("--task-lb", required=True)
    l.add_argument("--stats", required=True)
    l.add_argument("--action", choices=["kill", "term"], required=True)
    l.add_argument("--pids", required=True)
    l.add_argument("--servers", required=True, help="HAProxy backend/server names of those pids")
    l.add_argument("--seconds", type=float, default=12)
    l.add_argument("--act-at", type=float, default=4)
    l.add_argument("--workers", type=int, default=8)
    l.add_argument("--shutdown-delay", type=float, default=5)
    l.add_argument("--json")
    a = p.parse_args()
    sys.exit(checks(a) if a.cmd == "checks" else load(a))


if __name__ == "__main__":
    main()
