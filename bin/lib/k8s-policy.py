"""What deploy/k8s must keep true beyond the API schemas (bin/lint-k8s runs this on each rendered
overlay; kubernetes-validate has already checked every object against Kubernetes' own schemas).

    python3 k8s-policy.py README.md docker/postgres-init/10-service-roles.sh RENDERED.yaml...

Each rendered file is one overlay (`kubectl kustomize`). Prints every breach and exits 1 if any.
"""

import re
import sys
from urllib.parse import urlparse

import yaml

# The services and what they need (README.md, "Configuration": each variable's service column).
SERVICES = {"auth-service": "auth", "task-service": "tasks"}
# REQUEST_TIMEOUT_MS's default: how long a stopping service drains requests in flight.
REQUEST_TIMEOUT_MS = 15_000
# SHUTDOWN_DELAY_MS's default: how long a stopping service serves on, unready, before the drain.
SHUTDOWN_DELAY_MS = 5_000
# PostgreSQL's default max_connections (100) less superuser_reserved_connections (3).
SERVER_CONNECTIONS = 97

errors = []


def fail(where, what):
    errors.append(f"{where}: {what}")


def readme_settings(readme):
    """{variable: service column} from README.md's configuration table."""
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    settings = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        for var in re.findall(r"`([A-Z0-9_]+)`", cells[0]):
            settings[var] = cells[1]
    return settings


def pod_spec(obj):
    return obj["spec"]["template"]["spec"]


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def check_pod(where, spec):
    sc = spec.get("securityContext", {})
    if sc.get("runAsNonRoot") is not True:
        fail(where, "pod securityContext.runAsNonRoot must be true")
    if sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        fail(where, "pod seccompProfile must be RuntimeDefault")
    if spec.get("automountServiceAccountToken") is not False:
        fail(where, "automountServiceAccountToken must be false (nothing here calls the API)")
    for c in spec.get("initContainers", []) + spec["containers"]:
        cw = f"{where} container {c['name']}"
        csc = c.get("securityContext", {})
        if csc.get("allowPrivilegeEscalation") is not False:
            fail(cw, "allowPrivilegeEscalation must be false")
        if csc.get("readOnlyRootFilesystem") is not True:
            fail(cw, "readOnlyRootFilesystem must be true")
        if "ALL" not in csc.get("capabilities", {}).get("drop", []):
            fail(cw, "capabilities must drop ALL")
        if csc.get("capabilities", {}).get("add"):
            fail(cw, "no capability may be added")
        res = c.get("resources", {})
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in res.get(kind, {}):
                    fail(cw, f"resources.{kind}.{r} missing")


def env_of(container, configmaps):
    """The container's environment: envFrom ConfigMaps first, then env (values or refs)."""
    env = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        if ref:
            env.update(configmaps.get(ref["name"], {}))
    for e in container.get("env", []):
        env[e["name"]] = e.get("value", e.get("valueFrom"))
    return env


def check_metrics(dw, deployment, container, env, by_kind):
    """METRICS_BIND, when set: a container port of its own named `metrics`, the port the scrape
    annotations name, in no Service, and not opened to the ingress controller (README.md, Metrics).
    """
    bind = env.get("METRICS_BIND")
    if not bind:
        return
    port = int(bind.rsplit(":", 1)[1])
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    if ports.get("metrics") != port:
        fail(dw, f"METRICS_BIND {bind}: needs the container port `metrics` {port}, has {ports}")
    if port == ports.get("http"):
        fail(dw, f"METRICS_BIND {bind} is the API's own port")
    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    if annotations.get("prometheus.io/port") != str(port):
        fail(
            dw,
            f"prometheus.io/port ({annotations.get('prometheus.io/port')}) is not METRICS_BIND's {port}",
        )
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    for svc in by_kind.get("Service", []):
        if not matches(svc["spec"].get("selector", {}) or {"-": "-"}, labels):
            continue
        for sp in svc["spec"].get("ports", []):
            if sp.get("targetPort") in ("metrics", port) or sp.get("port") == port:
                fail(f"{dw} service/{svc['metadata']['name']}", "exposes the metrics port")
    for policy in by_kind.get("NetworkPolicy", []):
        if not matches(policy["spec"]["podSelector"].get("matchLabels", {}), labels):
            continue
        for rule in policy["spec"].get("ingress", []):
            opened = [p.get("port") for p in rule.get("ports", [])]
            if rule.get("ports") and port not in opened and "metrics" not in opened:
                continue
            for peer in rule.get("from", [{}]):
                ns = peer.get("namespaceSelector", {}).get("matchLabels", {})
                if ns.get("kubernetes.io/metadata.name") == "ingress-nginx" or not peer:
                    fail(
                        f"{dw} networkpolicy/{policy['metadata']['name']}",
                        "opens the metrics port to the ingress controller or to everyone",
                    )


def check_overlay(path, settings, role_limit):
    with open(path, encoding="utf-8") as f:
        objs = [o for o in yaml.safe_load_all(f) if o]
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    configmaps = {o["metadata"]["name"]: o.get("data", {}) for o in by_kind.get("ConfigMap", [])}
    where = path

    for ns in by_kind.get("Namespace", []):
        if (
            ns["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce")
            != "restricted"
        ):
            fail(
                f"{where} namespace {ns['metadata']['name']}",
                "must enforce the restricted Pod Security Standard",
            )

    for kind in ("Deployment", "StatefulSet", "Job"):
        for o in by_kind.get(kind, []):
            check_pod(f"{where} {kind.lower()}/{o['metadata']['name']}", pod_spec(o))

    deployments = {d["metadata"]["name"]: d for d in by_kind.get("Deployment", [])}
    jobs = by_kind.get("Job", [])
    env = {}
    budget_total = 0
    for name, d in deployments.items():
        dw = f"{where} deployment/{name}"
        spec = pod_spec(d)
        labels = d["spec"]["template"]["metadata"]["labels"]
        container = spec["containers"][0]
        env[name] = env_of(container, configmaps)

        # Probes, graceful stop.
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            if probe not in container:
                fail(dw, f"{probe} missing")
        if name in SERVICES:
            paths = {
                p: container.get(p, {}).get("httpGet", {}).get("path")
                for p in ("startupProbe", "livenessProbe", "readinessProbe")
            }
            want = {
                "startupProbe": "/healthz",
                "livenessProbe": "/healthz",
                "readinessProbe": "/readyz",
            }
            if paths != want:
                fail(dw, f"probes must be {want}, are {paths}")
        sleep = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        # After SIGTERM a service serves on (readiness 503) for SHUTDOWN_DELAY_MS, then drains.
        delay = (
            -(-int(env[name].get("SHUTDOWN_DELAY_MS", SHUTDOWN_DELAY_MS)) // 1000)
            if name in SERVICES
            else 0
        )
        drain = (
            int(env[name].get("REQUEST_TIMEOUT_MS", REQUEST_TIMEOUT_MS)) // 1000
            if name in SERVICES
            else 0
        )
        grace = spec.get("terminationGracePeriodSeconds", 30)
        if sleep < 1:
            fail(dw, "needs a preStop sleep (endpoint removal reaches the proxies first)")
        if grace <= sleep + delay + drain:
            fail(
                dw,
                f"terminationGracePeriodSeconds {grace} leaves no time to drain ({sleep} s preStop + "
                f"{delay} s SHUTDOWN_DELAY_MS + {drain} s)",
            )

        # A disruption budget, an autoscaler, a network policy, and a Service that only its pods match.
        pdbs = [
            p
            for p in by_kind.get("PodDisruptionBudget", [])
            if matches(p["spec"]["selector"]["matchLabels"], labels)
        ]
        if not pdbs:
            fail(dw, "no PodDisruptionBudget selects its pods")
        hpas = [
            h
            for h in by_kind.get("HorizontalPodAutoscaler", [])
            if h["spec"]["scaleTargetRef"]["name"] == name
        ]
        if not hpas:
            fail(dw, "no HorizontalPodAutoscaler scales it")
        if not any(
            matches(n["spec"]["podSelector"].get("matchLabels", {}), labels)
            for n in by_kind.get("NetworkPolicy", [])
            if n["spec"]["podSelector"]
        ):
            fail(dw, "no NetworkPolicy of its own")
        for svc in by_kind.get("Service", []):
            sel = svc["spec"].get("selector", {})
            for j in jobs:
                if sel and matches(sel, j["spec"]["template"]["metadata"]["labels"]):
                    fail(
                        f"{where} service/{svc['metadata']['name']}",
                        f"selects job/{j['metadata']['name']}'s pods",
                    )

        if name not in SERVICES:
            continue
        # Every variable set is a setting of this service (a typo would be silently ignored).
        service = SERVICES[name]
        for var in env[name]:
            if settings.get(var) not in (service, "both"):
                fail(dw, f"{var} is not a setting of the {name} (README.md, Configuration)")
        if "DATABASE_URL" not in env[name]:
            fail(dw, "DATABASE_URL not set")
        check_metrics(dw, d, container, env[name], by_kind)

        # Its migration Job: the same image, `migrate`, the same database.
        mine = [j for j in jobs if pod_spec(j)["containers"][0]["image"] == container["image"]]
        if not mine:
            fail(dw, "no migration Job runs its image")
        for j in mine:
            jc = pod_spec(j)["containers"][0]
            if jc.get("args") != ["migrate"]:
                fail(f"{where} job/{j['metadata']['name']}", "must run `migrate`")
            if env_of(jc, configmaps).get("DATABASE_URL") != env[name]["DATABASE_URL"]:
                fail(f"{where} job/{j['metadata']['name']}", "must take the service's DATABASE_URL")

        # Connection budget: every replica the autoscaler may run, plus the rolling update's
        # surge, holds up to DB_MAX_CONNECTIONS; the migration Job one more.
        pool = int(env[name].get("DB_MAX_CONNECTIONS", 10))
        surge = d["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
        most = max(h["spec"]["maxReplicas"] for h in hpas) if hpas else 1
        connections = (most + surge) * pool + 1
        budget_total += connections
        if connections > role_limit:
            fail(
                dw,
                f"up to {connections} connections ({most}+{surge} replicas x {pool} + 1), over its role's CONNECTION LIMIT {role_limit}",
            )
    if budget_total > SERVER_CONNECTIONS:
        fail(
            where,
            f"the services may open {budget_total} connections, over the server's {SERVER_CONNECTIONS}",
        )

    # The addresses agree with each other.
    auth, tasks, web = env.get("auth-service", {}), env.get("task-service", {}), env.get("web", {})
    pairs = [
        (
            "task-service AUTH_ISSUER",
            tasks.get("AUTH_ISSUER"),
            "auth-service ISSUER",
            auth.get("ISSUER"),
        ),
        ("web AUTH_URL", web.get("AUTH_URL"), "auth-service ISSUER", auth.get("ISSUER")),
        (
            "task-service CORS_ORIGINS",
            tasks.get("CORS_ORIGINS"),
            "auth-service CORS_ORIGINS",
            auth.get("CORS_ORIGINS"),
        ),
    ]
    for a, av, b, bv in pairs:
        if av is None or av != bv:
            fail(where, f"{a} ({av}) must equal {b} ({bv})")
    if auth.get("WEB_URL") not in auth.get("CORS_ORIGINS", "").split(","):
        fail(where, f"auth-service WEB_URL ({auth.get('WEB_URL')}) must be one of its CORS_ORIGINS")
    # Passkeys: the ceremony's origin is the web app's, under the relying party id (README defaults).
    origin = auth.get("WEBAUTHN_ORIGIN", "http://localhost:3000")
    rp_id = auth.get("WEBAUTHN_RP_ID", "localhost")
    if origin != auth.get("WEB_URL"):
        fail(
            where,
            f"auth-service WEBAUTHN_ORIGIN ({origin}) must be its WEB_URL ({auth.get('WEB_URL')})",
        )
    host = urlparse(origin).hostname or ""
    if host != rp_id and not host.endswith("." + rp_id):
        fail(
            where, f"auth-service WEBAUTHN_RP_ID ({rp_id}) must be {host} or a parent domain of it"
        )
    return len(objs)


def main():
    readme, init_script, *rendered = sys.argv[1:]
    with open(readme, encoding="utf-8") as f:
        settings = readme_settings(f.read())
    with open(init_script, encoding="utf-8") as f:
        limits = {int(n) for n in re.findall(r"CONNECTION LIMIT (\d+)", f.read())}
    if len(limits) != 1:
        sys.exit(f"{init_script}: expected one CONNECTION LIMIT for both roles, found {limits}")
    role_limit = limits.pop()
    for path in rendered:
        n = check_overlay(path, settings, role_limit)
        print(f"{path}: {n} objects checked")
    for e in errors:
        print(f"error: {e}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
