#!/usr/bin/env python3
"""Dashboard benchmark against `gpuboard-sim --nodes 1000 --gpus-per-node 8`.

Builds the release site (`scripts/build-site.sh --release`), the release server and the release sim,
starts the sim (1,000 GPU nodes, 8,000 GPUs, 1,000 simulated exporters) and `gpuboard serve`
pointed at it, and waits until two telemetry cycles have read every exporter. Then it measures in
the same run: server-side render time of the GPU inventory (/gpus) and the overview (/), each next
to /healthz as a baseline; the API calls those page views make (the sim's apiserver_request_total);
the telemetry cycle time over 1,000 exporters (the dashboard's own /metrics); the release WASM
gzipped. Then it fills the cluster with 5,000 GPU pods: 4,000 running on 2 GPUs each (every GPU
taken), the last 1,000 of them made large as tenants make them (a 32 KiB annotation, the
last-applied configuration, 64 labels, 100 environment variables), then 1,000 pending, reading
the server's RSS after each batch against the size of the pods' JSON as the API server lists them
(M6 of ../shared/reviews/security-2026-11-23.md: a large pod should cost the server about what a
small one of the same kind does). It times the GPU queue page (/queue) and
the fit check (POST /api/v1/workloads/fit), with the API calls they make. Then it restarts the
server with a 250 ms interval and 3 min of history, which holds as many samples per GPU as the
default 1 h at 5 s (720), waits until 720 cycles with no exporter failure have run, and reads the
server's RSS.

Every figure it prints was measured: when a precondition is not met (a warm-up cycle never reads
every exporter, the history never fills) it says which and exits 1 instead of printing figures.

    scripts/bench.sh dashboard              (about 20 minutes on 2 cores, most of it the builds)
    scripts/bench.sh dashboard --no-build   (measure the release binaries already built)
"""

import base64
import glob
import gzip
import http.client
import json
import os
import ssl
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
STATE = os.path.join(ROOT, ".state", "bench-sim")
NODES, GPUS = 1000, 8
# The queue benchmark's pods: each asks for 2 GPUs, so RUNNING_PODS fill every GPU.
RUNNING_PODS, PENDING_PODS = NODES * GPUS // 2, 1000
TIMED_VIEWS, WARMUP_VIEWS = 40, 5
FULL_HISTORY = 720
# Of the running pods, these are made large; the most one may cost the server's memory, as a
# multiple of a small one's.
LARGE_PODS, LARGE_POD_TARGET = 1000, 2.0


def fail(why):
    sys.exit(f"bench_dashboard: {why}; no figures printed")


def parser():
    """prometheus_client's text parser (from PyPI), installed on first use."""
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "prometheus-client"], check=True)
        from prometheus_client.parser import text_string_to_metric_families
    return text_string_to_metric_families


def request(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    return r.status, dict(r.getheaders()), r.read()


class Process:
    """A started binary whose output goes to a log file; it prints `listening on ADDR` once bound."""

    def __init__(self, args, log_path):
        self.log_path = log_path
        self.log = open(log_path, "w")
        env = dict(os.environ, RUST_LOG="info,kube=warn")
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self.log, stderr=self.log)

    def address(self, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.proc.poll() is not None:
                fail(f"{self.log_path}: the process exited ({self.proc.returncode})")
            for line in open(self.log_path):
                if line.startswith("listening on "):
                    host, port = line.split()[-1].rsplit(":", 1)
                    return host, int(port)
            time.sleep(0.2)
        fail(f"{self.log_path}: no `listening on` line in {seconds} s")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024


def admin_token():
    return open(os.path.join(STATE, "admin.token")).read().strip()


def sim_request_counts(sim_addr, metrics):
    """apiserver_request_total by (verb, resource), read from the sim with the admin token."""
    kubeconfig = json.load(open(os.path.join(STATE, "kubeconfig")))
    ca = base64.b64decode(kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    conn = http.client.HTTPSConnection(*sim_addr, timeout=30, context=ssl.create_default_context(cadata=ca))
    status, _, body = request(conn, "GET", "/metrics", headers={"Authorization": f"Bearer {admin_token()}"})
    if status != 200:
        fail(f"the sim's /metrics answered {status}")
    counts = {}
    for family in metrics(body.decode()):
        for s in family.samples:
            if s.name == "apiserver_request_total":
                key = (s.labels["verb"], s.labels["resource"])
                counts[key] = counts.get(key, 0) + int(s.value)
    return counts


def dashboard_stats(addr, metrics):
    """The dashboard's own /metrics as {name: value}."""
    conn = http.client.HTTPConnection(*addr, timeout=30)
    status, _, body = request(conn, "GET", "/metrics", headers={"Authorization": f"Bearer {admin_token()}"})
    if status != 200:
        fail(f"the dashboard's /metrics answered {status}")
    return {s.name: s.value for family in metrics(body.decode()) for s in family.samples}


def sign_in(addr, token=None):
    """Signs in through the sign-in form with `token` (the admin's by default); the session cookie."""
    conn = http.client.HTTPConnection(*addr, timeout=30)
    status, headers, _ = request(conn, "POST", "/login", body=f"token={token or admin_token()}",
                                 headers={"Content-Type": "application/x-www-form-urlencoded",
                                          "Origin": f"http://{addr[0]}:{addr[1]}"})
    cookie = headers.get("set-cookie", "").split(";")[0]
    if not cookie.startswith("__Host-gpuboard_session="):
        fail(f"sign-in failed: {status} {headers.get('location')}")
    return cookie


def timings(addr, path, cookie, n, warmup=WARMUP_VIEWS):
    """p50 and p90 of n GETs of path on one keep-alive connection, after warm-up views."""
    conn = http.client.HTTPConnection(*addr, timeout=30)
    headers = {"Cookie": cookie}
    for _ in range(warmup):
        request(conn, "GET", path, headers=headers)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        status, _, _ = request(conn, "GET", path, headers=headers)
        out.append(time.perf_counter() - t)
        if status != 200:
            fail(f"{path} answered {status}")
    conn.close()
    out.sort()
    return out[n // 2], out[n * 9 // 10]


def sim_connection(sim_addr):
    kubeconfig = json.load(open(os.path.join(STATE, "kubeconfig")))
    ca = base64.b64decode(kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    return http.client.HTTPSConnection(*sim_addr, timeout=60, context=ssl.create_default_context(cadata=ca))


def gpu_pod(name):
    """A pod of 2 GPUs in namespace bench, with only what a pod needs."""
    return {"metadata": {"name": name, "namespace": "bench"},
            "spec": {"containers": [{"name": "main", "image": "pytorch/pytorch:latest",
                                     "command": ["sleep", "infinity"],
                                     "resources": {"limits": {"nvidia.com/gpu": "2"}}}],
                     "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]}}


def large_gpu_pod(name):
    """gpu_pod made large as tenants' pods are: kubectl's last-applied configuration, a 32 KiB
    annotation, 64 labels and 100 environment variables (about 50 KiB of JSON)."""
    pod = gpu_pod(name)
    pod["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps(gpu_pod(name)),
        "bench.gpuboard.io/notes": "n" * 32 * 1024,
    }
    pod["metadata"]["labels"] = {f"tenant.example/label-{i:02d}": f"{i:02d}" + "v" * 58 for i in range(64)}
    pod["spec"]["containers"][0]["env"] = [{"name": f"SETTING_{i:03d}", "value": "e" * 100} for i in range(100)]
    return pod


def fill_with_gpu_pods(sim_addr, first, count, make):
    """Creates `count` pods `make(name)` named train-{first}... in namespace bench."""
    conn = sim_connection(sim_addr)
    headers = {"Authorization": f"Bearer {admin_token()}", "Content-Type": "application/json"}
    status, _, body = request(conn, "POST", "/api/v1/namespaces",
                              json.dumps({"metadata": {"name": "bench"}}), headers)
    if status not in (201, 409):
        fail(f"creating namespace bench answered {status}: {body[:200]}")
    for i in range(first, first + count):
        pod = make(f"train-{i:05d}")
        status, _, body = request(conn, "POST", "/api/v1/namespaces/bench/pods", json.dumps(pod), headers)
        if status != 201:
            fail(f"creating pod {i} answered {status}: {body[:200]}")


def pod_json_sizes(sim_addr):
    """Each bench pod's JSON size in bytes, by name, as the API server lists them."""
    conn = sim_connection(sim_addr)
    status, _, body = request(conn, "GET", "/api/v1/namespaces/bench/pods",
                              headers={"Authorization": f"Bearer {admin_token()}"})
    if status != 200:
        fail(f"listing the bench pods answered {status}: {body[:200]}")
    return {p["metadata"]["name"]: len(json.dumps(p, separators=(",", ":"))) for p in json.loads(body)["items"]}


def json_mib(sizes, first, count):
    """The JSON size (MiB) of pods train-{first}... of `sizes`; fails unless all are listed."""
    batch = [sizes[name] for name in (f"train-{i:05d}" for i in range(first, first + count)) if name in sizes]
    if len(batch) != count:
        fail(f"the API server lists {len(batch)} of the {count} pods made")
    return sum(batch) / 2**20


def wait_queue(addr, running, pending, seconds):
    """Waits until the dashboard's queue shows `running` pods running and `pending` pending."""
    headers = {"Authorization": f"Bearer {admin_token()}"}
    deadline = time.time() + seconds
    last = None
    while time.time() < deadline:
        conn = http.client.HTTPConnection(*addr, timeout=60)
        status, _, body = request(conn, "GET", "/api/v1/workloads", headers=headers)
        if status == 200:
            q = json.loads(body)
            last = (q["running"], q["pending"])
            if last == (running, pending):
                return
        time.sleep(2)
    fail(f"the queue never showed {running} running and {pending} pending pods (last: {last})")


def post_timings(addr, path, body, n, warmup=WARMUP_VIEWS):
    """p50 and p90 of n bearer-token POSTs of body to path on one keep-alive connection."""
    conn = http.client.HTTPConnection(*addr, timeout=30)
    headers = {"Authorization": f"Bearer {admin_token()}", "Content-Type": "application/json"}
    for _ in range(warmup):
        request(conn, "POST", path, body, headers)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        status, _, answer = request(conn, "POST", path, body, headers)
        out.append(time.perf_counter() - t)
        if status != 200:
            fail(f"{path} answered {status}: {answer[:200]}")
    conn.close()
    out.sort()
    return out[n // 2], out[n * 9 // 10], json.loads(answer)


def wait_full_cycles(addr, metrics, count, seconds, nodes=NODES):
    """Waits until `count` cycles have run since now, each with all `nodes` answering; returns
    the duration of each full cycle seen (seconds) and how long the wait took."""
    start = dashboard_stats(addr, metrics)
    durations, seen = [], start["gpuboard_telemetry_cycles_total"]
    started = time.time()
    while time.time() - started < seconds:
        time.sleep(1)
        now = dashboard_stats(addr, metrics)
        if now["gpuboard_telemetry_exporter_failures_total"] > start["gpuboard_telemetry_exporter_failures_total"]:
            fail(f"exporters failed during the wait: {now}")
        if now["gpuboard_telemetry_cycles_total"] > seen and now["gpuboard_telemetry_exporters_answered"] == nodes:
            durations.append(now["gpuboard_telemetry_last_cycle_duration_seconds"])
            seen = now["gpuboard_telemetry_cycles_total"]
        if now["gpuboard_telemetry_cycles_total"] - start["gpuboard_telemetry_cycles_total"] >= count \
                and now["gpuboard_telemetry_exporters"] == nodes:
            return durations, time.time() - started
    fail(f"{count} cycles over {nodes} exporters did not run within {seconds} s")


def serve(sim_dir, log_name, extra):
    p = Process([os.path.join(RELEASE, "gpuboard"), "serve", "--kubeconfig", os.path.join(sim_dir, "kubeconfig"),
                 "--listen", "127.0.0.1:0", *extra], os.path.join(STATE, log_name))
    return p, p.address(60)


def build():
    """The release site, server and sim (the tools first, as the demo installs them)."""
    tools = os.path.join(ROOT, "tools", "node_modules", ".bin")
    env = dict(os.environ, PATH=f"{tools}:{os.environ['PATH']}")
    subprocess.run([os.path.join(ROOT, "scripts", "setup.sh"), "demo"], cwd=ROOT, env=env, check=True)
    subprocess.run([os.path.join(ROOT, "scripts", "build-site.sh"), "--release"], cwd=ROOT, env=env, check=True)
    subprocess.run(["cargo", "build", "--release", "-p", "gpuboard", "-p", "gpuboard-sim"], cwd=ROOT, env=env, check=True)


def main():
    if "--no-build" not in sys.argv:
        build()
    metrics = parser()
    os.makedirs(STATE, exist_ok=True)
    procs = []
    try:
        started = time.time()
        sim = Process([os.path.join(RELEASE, "gpuboard-sim"), "--listen", "127.0.0.1:0", "--state-dir", STATE,
                       "--nodes", str(NODES), "--gpus-per-node", str(GPUS), "--exporter-port", "0"],
                      os.path.join(STATE, "sim.log"))
        procs.append(sim)
        sim_addr = sim.address(180)
        sim_ready = time.time() - started
        server, addr = serve(STATE, "serve.log", [])
        procs.append(server)
        cookie = sign_in(addr)
        wait_full_cycles(addr, metrics, 2, 180)
        calls_before = sim_request_counts(sim_addr, metrics)
        gpus_p50, gpus_p90 = timings(addr, "/gpus", cookie, TIMED_VIEWS)
        overview_p50, overview_p90 = timings(addr, "/", cookie, TIMED_VIEWS)
        calls_after = sim_request_counts(sim_addr, metrics)
        views = 2 * (TIMED_VIEWS + WARMUP_VIEWS)
        lists = sum(n - calls_before.get(k, 0) for k, n in calls_after.items() if k[0] == "LIST")
        reviews = calls_after.get(("POST", "selfsubjectaccessreviews"), 0) \
            - calls_before.get(("POST", "selfsubjectaccessreviews"), 0)
        health_p50, _ = timings(addr, "/healthz", cookie, 200)
        cycles, _ = wait_full_cycles(addr, metrics, 5, 120)
        rss_start = server.rss_mib()

        # Memory per pod, small and large; then the GPU queue and the fit check with every GPU
        # taken and 1,000 pods waiting.
        batches = [("running", 0, RUNNING_PODS - LARGE_PODS, gpu_pod),
                   ("large running", RUNNING_PODS - LARGE_PODS, LARGE_PODS, large_gpu_pod),
                   ("pending", RUNNING_PODS, PENDING_PODS, gpu_pod)]
        rss, running, pending = [rss_start], 0, 0
        for kind, first, count, make in batches:
            fill_with_gpu_pods(sim_addr, first, count, make)
            if kind == "pending":
                pending += count
            else:
                running += count
            wait_queue(addr, running, pending, 600)
            wait_full_cycles(addr, metrics, 2, 120)
            rss.append(server.rss_mib())
        per_pod, json_kib, lines = [], [], []
        sizes = pod_json_sizes(sim_addr)
        for (kind, first, count, _), before, after in zip(batches, rss, rss[1:]):
            mib = json_mib(sizes, first, count)
            per_pod.append((after - before) * 1024 / count)
            json_kib.append(mib * 1024 / count)
            lines.append(f"  {count} {kind} pods ({mib:.1f} MiB of JSON, {json_kib[-1]:.1f} KiB each):"
                         f" RSS {before:.0f} -> {after:.0f} MiB = {per_pod[-1]:.2f} KiB per pod")
        (small_kib, large_kib), (small_json_kib, large_json_kib) = per_pod[:2], json_kib[:2]
        if small_kib <= 0:
            fail(f"the server's RSS did not grow with {RUNNING_PODS - LARGE_PODS} running pods: {rss}")
        lines.append(f"  a large running pod costs {large_kib / small_kib:.2f}x a small one's memory"
                     f" (target: at most {LARGE_POD_TARGET:.0f}x) for {large_json_kib / small_json_kib:.0f}x its JSON")
        # Printed now as well as at the end, so a later phase's failure does not lose them.
        pod_memory = "\n".join(lines)
        print(pod_memory, flush=True)
        fit_body = json.dumps({"kind": "Job", "name": "probe", "namespace": "bench", "image": "pytorch/pytorch:latest",
                               "command": ["python", "train.py"], "gpus": 2})
        calls_before = sim_request_counts(sim_addr, metrics)
        queue_p50, queue_p90 = timings(addr, "/queue", cookie, TIMED_VIEWS)
        fit_p50, fit_p90, fit = post_timings(addr, "/api/v1/workloads/fit", fit_body, TIMED_VIEWS * 5)
        calls_after = sim_request_counts(sim_addr, metrics)
        if fit["fit"]["verdict"] != "Waits" or fit["fit"]["ahead"] != PENDING_PODS:
            fail(f"the fit check should wait behind {PENDING_PODS} pods: {fit}")
        queue_views = TIMED_VIEWS + WARMUP_VIEWS + TIMED_VIEWS * 5 + WARMUP_VIEWS
        queue_lists = sum(n - calls_before.get(k, 0) for k, n in calls_after.items() if k[0] == "LIST")
        health_after, _ = timings(addr, "/healthz", cookie, 200)
        server.stop()
        procs.remove(server)

        # As many samples per GPU as 1 h at 5 s, in 3 minutes.
        server, addr = serve(STATE, "serve-history.log", ["--telemetry-interval", "250ms", "--telemetry-history", "180s"])
        procs.append(server)
        _, fill = wait_full_cycles(addr, metrics, FULL_HISTORY, 600)
        cookie = sign_in(addr)
        for path in ("/", "/nodes", "/gpus", "/nodes/gpu-node-0001"):
            timings(addr, path, cookie, 2, warmup=0)
        rss_full = server.rss_mib()
        wasm = sorted(glob.glob(os.path.join(ROOT, "target", "site", "pkg", "*.wasm")))
        print()
        print(f"gpuboard dashboard benchmark: gpuboard-sim with {NODES} nodes x {GPUS} GPUs (ready in {sim_ready:.1f} s)")
        print(f"  GET /gpus (8,000 GPUs, SSR)  p50 {gpus_p50 * 1e3:7.1f} ms  p90 {gpus_p90 * 1e3:7.1f} ms  = {gpus_p50 / health_p50:6.0f}x /healthz")
        print(f"  GET / (overview, SSR)        p50 {overview_p50 * 1e3:7.1f} ms  p90 {overview_p90 * 1e3:7.1f} ms  = {overview_p50 / health_p50:6.0f}x /healthz")
        print(f"  GET /healthz (baseline)      p50 {health_p50 * 1e3:7.2f} ms")
        print(f"  API calls during those {views} page views: {lists} list, {reviews} access reviews")
        print(f"  with {RUNNING_PODS + PENDING_PODS} GPU pods ({RUNNING_PODS} running, {PENDING_PODS} pending):")
        print(f"  GET /queue (SSR)              p50 {queue_p50 * 1e3:7.1f} ms  p90 {queue_p90 * 1e3:7.1f} ms  = {queue_p50 / health_after:6.0f}x /healthz")
        print(f"  POST /api/v1/workloads/fit    p50 {fit_p50 * 1e3:7.2f} ms  p90 {fit_p90 * 1e3:7.2f} ms  = {fit_p50 / health_after:6.0f}x /healthz")
        print(f"  GET /healthz (baseline, then) p50 {health_after * 1e3:7.2f} ms")
        print(f"  API calls during those {queue_views} queue views and fit checks: {queue_lists} list")
        print(f"  telemetry cycle over {NODES} exporters: median {statistics.median(cycles) * 1e3:.0f} ms,"
              f" max {max(cycles) * 1e3:.0f} ms ({len(cycles)} cycles)")
        print(f"  server RSS after warm-up: {rss_start:.0f} MiB")
        print(pod_memory)
        print(f"  server RSS with {FULL_HISTORY} samples per GPU (= 1 h at 5 s), after {fill:.0f} s at 250 ms"
              f" with no exporter failure, after listing those 5,000 pods at start: {rss_full:.0f} MiB"
              f" = {rss_full / rss_start:.2f}x after warm-up")
        for w in wasm:
            raw = open(w, "rb").read()
            print(f"  {os.path.relpath(w, ROOT)} (release): {len(raw) / 1024:.0f} KiB, gzipped {len(gzip.compress(raw, 9)) / 1024:.0f} KiB")
    finally:
        for p in reversed(procs):
            p.stop()
    if large_kib / small_kib > LARGE_POD_TARGET:
        sys.exit(f"bench_dashboard: a large pod costs {large_kib / small_kib:.2f}x a small pod's memory,"
                 f" over the target of {LARGE_POD_TARGET:.0f}x")


if __name__ == "__main__":
    main()
