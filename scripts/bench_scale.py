#!/usr/bin/env python3
"""Scale benchmark: the dashboard against `gpuboard-sim --nodes 5000 --gpus-per-node 8` (40,000
GPUs), with its GPU samples asked of every exporter (direct mode) and then of a real Prometheus
(Debian's `prometheus`, scraping the 5,000 simulated exporters on loopback).

For each mode, in the same run: the p50 and p90 of the overview (/) and the GPU inventory (/gpus)
next to /healthz on the same connection, the bytes each page view sends (its HTML with the
hydration data; the dashboard does not compress), the telemetry cycle (the dashboard's own
/metrics), and the server's RSS after warm-up. Then, in direct mode, the RSS with a full hour of
history: as many samples per GPU as 1 h at 5 s (720), gathered at the fastest interval the
cycle allows. Targets (issue 13): pages within 50 ms p50, the direct cycle within 2 s on 2 cores,
RSS within 1 GiB. Every figure printed was measured; when a precondition fails (the sim, the
dashboard or Prometheus does not start, a cycle never reads every node, the history never
fills) it says which and exits 1 without figures. It also exits 1 when a target is missed,
after printing every figure.

    scripts/bench.sh scale                    (builds the release binaries first)
    scripts/bench.sh scale --no-build         (measure the release binaries already built)
    scripts/bench.sh scale --nodes 2000       (another size)
    scripts/bench.sh scale --skip-history     (leave out the full hour of history: 720 cycles)
    scripts/bench.sh scale --skip-prometheus  (direct mode only; its targets alone decide)
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_dashboard as common  # noqa: E402  (the same helpers as the 1,000-node benchmark)

GPUS = 8
TIMED_VIEWS = 30
PAGE_TARGET_S, CYCLE_TARGET_S, RSS_TARGET_MIB = 0.050, 2.0, 1024
FULL_HISTORY = 720
# How often Prometheus scrapes each exporter. deploy/prometheus's PodMonitor says 15 s; here
# Prometheus shares two cores with the sim and the dashboard, and ingesting 880,000 series every
# 15 s leaves it no time to answer a query within 10 s, so it scrapes every 60 s.
SCRAPE_INTERVAL_S = 60
# The dashboard's cycle in Prometheus mode, and how long it waits for an answer.
PROMETHEUS_INTERVAL, PROMETHEUS_TIMEOUT = "15s", "30s"
# Prometheus's own time for what the dashboard asks (telemetry/mod.rs, CycleQueries): the same
# labelled query, and the values query with the series named by pattern rather than one by one.
LABELLED_QUERY = '{__name__=~"DCGM_FI_DEV_GPU_UTIL|gpuboard_gpu_info|gpuboard_gpu_xid_errors_total"}'
VALUES_QUERY = ('max by (__name__, UUID, GPU_I_ID) ({__name__=~"DCGM_FI_.+|gpuboard_gpu_memory_total_bytes'
                '|gpuboard_gpu_power_limit_watts", __name__!="DCGM_FI_DEV_GPU_UTIL"})')


def fail(why):
    common.fail(why)


def page_bytes(addr, path, cookie):
    """The bytes of one view of `path` (its body as sent: no compression)."""
    conn = common.http.client.HTTPConnection(*addr, timeout=60)
    status, _, body = common.request(conn, "GET", path, headers={"Cookie": cookie})
    if status != 200:
        fail(f"{path} answered {status}")
    return len(body)


def exporter_targets(sim_addr):
    """Each simulated exporter's `ip:port` and node, from its pod (as the dashboard finds them)."""
    conn = common.sim_connection(sim_addr)
    selector = urllib.parse.quote("app.kubernetes.io/name=gpuboard-exporter")
    status, _, body = common.request(conn, "GET", f"/api/v1/namespaces/gpuboard/pods?labelSelector={selector}",
                                     headers={"Authorization": f"Bearer {common.admin_token()}"})
    if status != 200:
        fail(f"listing the exporter pods answered {status}")
    targets = []
    for pod in json.loads(body)["items"]:
        port = pod["spec"]["containers"][0]["ports"][0]["containerPort"]
        targets.append((f"{pod['status']['podIP']}:{port}", pod["spec"]["nodeName"]))
    return targets


class Prometheus:
    """Debian's prometheus on a free loopback port, scraping every exporter, its node as a label."""

    def __init__(self, targets, log_path):
        if shutil.which("prometheus") is None:
            fail("prometheus is not installed (scripts/setup.sh test installs Debian's)")
        self.dir = tempfile.mkdtemp(prefix="bench-prometheus-")
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write(f"global:\n  scrape_interval: {SCRAPE_INTERVAL_S}s\n  scrape_timeout: 30s\n"
                    "scrape_configs:\n  - job_name: gpuboard-exporter\n    honor_labels: true\n"
                    "    static_configs:\n")
            for address, node in targets:
                f.write(f"      - targets: ['{address}']\n        labels: {{node: '{node}'}}\n")
        self.port = free_port()
        self.process = common.Process(["prometheus", f"--config.file={config}",
                                       f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
                                       f"--web.listen-address=127.0.0.1:{self.port}"], log_path)
        self.proc = self.process.proc

    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def timed_query(self, promql):
        """Seconds and bytes of Prometheus's answer to `promql`."""
        url = f"{self.url()}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=120) as r:
            size = len(r.read())
        return time.perf_counter() - started, size

    def query(self, promql):
        url = f"{self.url()}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                return json.load(r)["data"]["result"]
        except OSError:
            return None

    def wait_scraped(self, nodes, seconds):
        """Waits until every exporter is up and Prometheus holds every GPU's utilization."""
        deadline, last = time.time() + seconds, None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                fail(f"prometheus exited ({self.proc.returncode})")
            up = self.query("count(up == 1)")
            gpus = self.query("count(DCGM_FI_DEV_GPU_UTIL)")
            last = (up, gpus)
            if up and gpus and int(float(up[0]["value"][1])) == nodes \
                    and int(float(gpus[0]["value"][1])) == nodes * GPUS:
                return
            time.sleep(5)
        fail(f"Prometheus did not scrape all {nodes} exporters within {seconds} s (last: {last})")

    def rss_mib(self):
        return self.process.rss_mib()

    def stop(self):
        self.process.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def free_port():
    """A loopback port free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure_pages(addr, cookie):
    """p50/p90 of the overview and the inventory, /healthz's p50, and the bytes of each view."""
    overview = common.timings(addr, "/", cookie, TIMED_VIEWS)
    gpus = common.timings(addr, "/gpus", cookie, TIMED_VIEWS)
    health, _ = common.timings(addr, "/healthz", cookie, 200)
    sizes = {path: page_bytes(addr, path, cookie) for path in ("/", "/gpus", "/nodes/gpu-node-0001")}
    return {"overview": overview, "gpus": gpus, "health": health, "bytes": sizes}


def run_mode(name, nodes, metrics, extra, cycles_timeout):
    """Starts the dashboard with `extra` flags, waits for full cycles, measures; returns figures."""
    log = f"serve-{name}.log"
    server, addr = common.serve(common.STATE, log, extra)
    try:
        cookie = common.sign_in(addr)
        try:
            common.wait_full_cycles(addr, metrics, 2, cycles_timeout, nodes=nodes)
        except SystemExit as why:
            # No figures for this mode: why the cycles failed, from the dashboard's log.
            with open(os.path.join(common.STATE, log)) as f:
                reasons = [line.strip()[:400] for line in f if "failed" in line]
            return {"failed": [str(why)] + reasons[-3:]}
        pages = measure_pages(addr, cookie)
        cycles, _ = common.wait_full_cycles(addr, metrics, 5, cycles_timeout, nodes=nodes)
        node_day = common.timings(addr, "/nodes/gpu-node-0001?range=day", cookie, 10, warmup=2)
        return dict(pages, cycles=cycles, rss=server.rss_mib(), node_day=node_day)
    finally:
        server.stop()


def full_history_rss(nodes, metrics, cycle_s):
    """The server's RSS once every GPU holds 720 samples, taken as fast as cycles run."""
    interval_ms = max(250, int(cycle_s * 1000))
    history_s = FULL_HISTORY * interval_ms // 1000
    server, addr = common.serve(common.STATE, "serve-history.log",
                                ["--telemetry-interval", f"{interval_ms}ms", "--telemetry-history", f"{history_s}s"])
    try:
        _, fill = common.wait_full_cycles(addr, metrics, FULL_HISTORY, FULL_HISTORY * cycle_s * 3 + 600,
                                          nodes=nodes)
        cookie = common.sign_in(addr)
        for path in ("/", "/gpus", "/nodes/gpu-node-0001"):
            common.timings(addr, path, cookie, 2, warmup=0)
        return server.rss_mib(), fill, interval_ms
    finally:
        server.stop()


def report(name, nodes, f):
    ms = lambda s: s * 1e3  # noqa: E731
    if "failed" in f:
        print(f"  {name}: NO FIGURES, the cycles never read every node:", *f["failed"], sep="\n    ")
        return
    (o50, o90), (g50, g90), h = f["overview"], f["gpus"], f["health"]
    print(f"  {name}:")
    print(f"    GET / (overview)          p50 {ms(o50):7.1f} ms  p90 {ms(o90):7.1f} ms  = {o50 / h:5.0f}x /healthz,"
          f" {f['bytes']['/'] / 1024:,.0f} KiB per view")
    print(f"    GET /gpus (200-row page)  p50 {ms(g50):7.1f} ms  p90 {ms(g90):7.1f} ms  = {g50 / h:5.0f}x /healthz,"
          f" {f['bytes']['/gpus'] / 1024:,.0f} KiB per view")
    d50, d90 = f["node_day"]
    print(f"    GET /nodes/gpu-node-0001?range=day  p50 {ms(d50):7.1f} ms  p90 {ms(d90):7.1f} ms,"
          f" {f['bytes']['/nodes/gpu-node-0001'] / 1024:,.0f} KiB per view")
    print(f"    GET /healthz (baseline)   p50 {ms(h):7.2f} ms")
    print(f"    telemetry cycle over {nodes} nodes: median {ms(statistics.median(f['cycles'])):.0f} ms,"
          f" max {ms(max(f['cycles'])):.0f} ms ({len(f['cycles'])} cycles)")
    print(f"    server RSS after warm-up: {f['rss']:.0f} MiB")


def main():
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--no-build", action="store_true")
    args.add_argument("--nodes", type=int, default=5000)
    args.add_argument("--skip-history", action="store_true")
    args.add_argument("--skip-prometheus", action="store_true")
    opts = args.parse_args()
    nodes = opts.nodes
    if not opts.no_build:
        common.build()
    metrics = common.parser()
    os.makedirs(common.STATE, exist_ok=True)
    procs = []
    try:
        started = time.time()
        # The simulated exporters sample every 5 s, as often as the dashboard asks.
        sim = common.Process([os.path.join(common.RELEASE, "gpuboard-sim"), "--listen", "127.0.0.1:0",
                              "--state-dir", common.STATE, "--nodes", str(nodes), "--gpus-per-node", str(GPUS),
                              "--exporter-port", "0", "--exporter-interval", "5s"],
                             os.path.join(common.STATE, "sim.log"))
        procs.append(sim)
        sim_addr = sim.address(900)
        sim_ready = time.time() - started
        sim_rss = sim.rss_mib()

        direct = run_mode("direct", nodes, metrics, [], 900)

        via_prometheus = None
        if not opts.skip_prometheus:
            targets = exporter_targets(sim_addr)
            if len(targets) != nodes:
                fail(f"the sim runs {len(targets)} exporter pods, not {nodes}")
            prometheus = Prometheus(targets, os.path.join(common.STATE, "prometheus.log"))
            procs.append(prometheus)
            prometheus.wait_scraped(nodes, 900)
            own = [prometheus.timed_query(q) for q in (LABELLED_QUERY, VALUES_QUERY)]
            via_prometheus = run_mode("prometheus", nodes, metrics,
                                      ["--prometheus-url", prometheus.url(), "--telemetry-interval",
                                       PROMETHEUS_INTERVAL, "--telemetry-timeout", PROMETHEUS_TIMEOUT], 900)
            prometheus_rss = prometheus.rss_mib()
            prometheus.stop()
            procs.remove(prometheus)

        history = None
        if not opts.skip_history and "failed" not in direct:
            history = full_history_rss(nodes, metrics, statistics.median(direct["cycles"]))

        print()
        print(f"gpuboard scale benchmark: gpuboard-sim with {nodes} nodes x {GPUS} GPUs"
              f" ({nodes * GPUS:,} GPUs; ready in {sim_ready:.0f} s, {sim_rss:.0f} MiB)")
        report("direct mode (every exporter asked every 5 s)", nodes, direct)
        if via_prometheus is None:
            print("  Prometheus mode: not measured (--skip-prometheus)")
        else:
            report(f"Prometheus mode (two instant queries every {PROMETHEUS_INTERVAL}; Prometheus scraping every"
                   f" {SCRAPE_INTERVAL_S} s, {prometheus_rss:,.0f} MiB RSS)", nodes, via_prometheus)
            for name, (seconds, size) in zip(("labelled", "values"), own):
                print(f"    Prometheus alone, the {name} query: {seconds * 1e3:,.0f} ms, {size / 2**20:.1f} MiB of JSON")
        if history:
            rss_full, fill, interval_ms = history
            print(f"  direct mode, server RSS with {FULL_HISTORY} samples per GPU (= 1 h at 5 s), filled at"
                  f" {interval_ms} ms in {fill:.0f} s: {rss_full:,.0f} MiB = {rss_full / direct['rss']:.2f}x after warm-up")
    finally:
        for p in reversed(procs):
            p.stop()

    missed = []
    measured = [("direct", direct)] + ([] if via_prometheus is None else [("prometheus", via_prometheus)])
    for name, f in measured:
        if "failed" in f:
            missed.append(f"{name} mode has no figures")
            continue
        for page in ("overview", "gpus"):
            if f[page][0] > PAGE_TARGET_S:
                missed.append(f"{name} {page} p50 {f[page][0] * 1e3:.1f} ms > {PAGE_TARGET_S * 1e3:.0f} ms")
        if f["rss"] > RSS_TARGET_MIB:
            missed.append(f"{name} RSS {f['rss']:.0f} MiB > {RSS_TARGET_MIB} MiB")
    if "failed" not in direct and statistics.median(direct["cycles"]) > CYCLE_TARGET_S:
        missed.append(f"direct cycle {statistics.median(direct['cycles']):.2f} s > {CYCLE_TARGET_S:.0f} s")
    if history and history[0] > RSS_TARGET_MIB:
        missed.append(f"direct RSS with a full hour {history[0]:.0f} MiB > {RSS_TARGET_MIB} MiB")
    if missed:
        sys.exit("bench_scale: targets missed: " + "; ".join(missed))


if __name__ == "__main__":
    main()
