#!/usr/bin/env python3
"""Dashboard benchmark against `gpuboard sim --nodes 1000 --gpus-per-node 8`.

Builds the release site (`cargo leptos build --release`: server binary and WASM), starts the sim
(1,000 GPU nodes, 8,000 GPUs, 1,000 simulated exporters) and `gpuboard serve` pointed at it,
signs in, waits until a telemetry cycle has read every exporter, then measures in the same run:
server-side render time of the GPU inventory (/gpus) and the overview (/), each next to /healthz
as a baseline; the API calls those page views make (the sim's apiserver_request_total); the
telemetry cycle time over 1,000 exporters; the size of the release WASM gzipped. Then it restarts
the server with a 250 ms interval and 3 min of history, which holds as many samples per GPU as
the default 1 h at 5 s (720), waits until that history is full and reads the server's RSS.
Prints figures; asserts nothing.

    scripts/bench_dashboard.py            (about 20 minutes on 2 cores, most of it the build)
    scripts/bench_dashboard.py --no-build (measure the release site already built)
"""

import base64
import json
import ssl

import gzip
import glob
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "gpuboard")
STATE = os.path.join(ROOT, ".state", "bench-sim")
SIM_ADDR = ("127.0.0.1", 16443)
DASH_ADDR = ("127.0.0.1", 3190)
NODES, GPUS = 1000, 8


def free(addr):
    with socket.socket() as s:
        return s.connect_ex(addr) != 0


def wait_port(addr, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(addr) == 0:
                return True
        time.sleep(0.2)
    return False


def request(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    return r.status, dict(r.getheaders()), r.read()


def timings(path, cookie, n):
    conn = http.client.HTTPConnection(*DASH_ADDR, timeout=30)
    headers = {"Cookie": cookie}
    for _ in range(5):
        request(conn, "GET", path, headers=headers)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        status, _, _ = request(conn, "GET", path, headers=headers)
        out.append(time.perf_counter() - t)
        assert status == 200, f"{path}: {status}"
    conn.close()
    out.sort()
    return out[n // 2], out[n * 9 // 10]


ANSI = re.compile(r"\x1b\[[0-9;]*m")
CYCLE = re.compile(r"exporters=(\d+) answered=(\d+) duration_ms=(\d+)")


def cycles_in(path):
    """(exporters, answered, duration_ms) of each logged telemetry cycle."""
    text = ANSI.sub("", open(path).read())
    return [(int(a), int(b), int(c)) for a, b, c in CYCLE.findall(text)]


def sim_request_counts(state):
    """apiserver_request_total by (verb, resource), read from the sim with the admin token."""
    kubeconfig = open(os.path.join(state, "kubeconfig")).read()
    ca = base64.b64decode(json.loads(kubeconfig)["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    token = open(os.path.join(state, "admin.token")).read().strip()
    conn = http.client.HTTPSConnection(*SIM_ADDR, timeout=30, context=ssl.create_default_context(cadata=ca))
    status, _, body = request(conn, "GET", "/metrics", headers={"Authorization": f"Bearer {token}"})
    assert status == 200, f"sim /metrics: {status}"
    counts = {}
    for verb, resource, n in re.findall(r'apiserver_request_total\{verb="(\w+)",group="[^"]*",resource="([^"]*)"[^}]*\} (\d+)', body.decode()):
        counts[(verb, resource)] = counts.get((verb, resource), 0) + int(n)
    return counts


def start_serve(state, log_path, extra):
    env = dict(os.environ, RUST_LOG="info,kube=warn,gpuboard::telemetry=debug")
    log = open(log_path, "w")
    serve = subprocess.Popen([BIN, "serve", "--kubeconfig", os.path.join(state, "kubeconfig"),
                              "--listen", f"{DASH_ADDR[0]}:{DASH_ADDR[1]}", *extra], cwd=ROOT, env=env, stdout=log, stderr=log)
    if not wait_port(DASH_ADDR, 60):
        sys.exit("the dashboard did not start")
    return serve


def sign_in(state):
    token = open(os.path.join(state, "admin.token")).read().strip()
    conn = http.client.HTTPConnection(*DASH_ADDR, timeout=30)
    status, headers, _ = request(conn, "POST", "/login", body=f"token={token}",
                                 headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": f"http://{DASH_ADDR[0]}:{DASH_ADDR[1]}"})
    cookie = headers.get("set-cookie", "").split(";")[0]
    assert cookie.startswith("gpuboard_session="), f"sign-in failed: {status} {headers}"
    return cookie


def stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024


def main():
    tools = os.path.join(ROOT, "tools", "node_modules", ".bin")
    env = dict(os.environ, PATH=f"{tools}:{os.environ['PATH']}")
    if "--no-build" not in sys.argv:
        subprocess.run([os.path.join(ROOT, "scripts", "setup.sh"), "demo"], cwd=ROOT, env=env, check=True)
        subprocess.run(["cargo", "leptos", "build", "--release"], cwd=ROOT, env=env, check=True)
    for addr in (SIM_ADDR, DASH_ADDR):
        if not free(addr):
            sys.exit(f"{addr[0]}:{addr[1]} is busy; stop what listens there first")
    procs = []
    try:
        started = time.time()
        sim = subprocess.Popen([BIN, "sim", "--listen", f"{SIM_ADDR[0]}:{SIM_ADDR[1]}", "--state-dir", STATE,
                                "--nodes", str(NODES), "--gpus-per-node", str(GPUS), "--exporter-port", "0"],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(sim)
        if not wait_port(SIM_ADDR, 120):
            sys.exit("the sim did not start")
        sim_ready = time.time() - started
        log_path = os.path.join(STATE, "serve.log")
        serve = start_serve(STATE, log_path, [])
        procs.append(serve)
        cookie = sign_in(STATE)
        # Warm-up: wait for two cycles that read every exporter.
        cycles = []
        deadline = time.time() + 120
        while time.time() < deadline:
            cycles = cycles_in(log_path)
            full = [c for c in cycles if c[0] == NODES and c[1] == NODES]
            if len(full) >= 2:
                break
            time.sleep(1)
        time.sleep(6)
        calls_before = sim_request_counts(STATE)
        gpus_p50, gpus_p90 = timings("/gpus", cookie, 40)
        overview_p50, overview_p90 = timings("/", cookie, 40)
        calls_after = sim_request_counts(STATE)
        views = 2 * (40 + 5)
        lists = sum(n - calls_before.get(k, 0) for k, n in calls_after.items() if k[0] == "LIST")
        reviews = calls_after.get(("POST", "selfsubjectaccessreviews"), 0) - calls_before.get(("POST", "selfsubjectaccessreviews"), 0)
        health_p50, _ = timings("/healthz", cookie, 200)
        cycles = cycles_in(log_path)
        full = [c[2] for c in cycles if c[0] == NODES and c[1] == NODES]
        rss_start = rss_mib(serve.pid)
        stop(serve)
        procs.remove(serve)

        # As many samples per GPU as 1 h at 5 s, in 3 minutes.
        history_log = os.path.join(STATE, "serve-history.log")
        serve = start_serve(STATE, history_log, ["--telemetry-interval", "250ms", "--telemetry-history", "180s"])
        procs.append(serve)
        fill_started = time.time()
        fast_cycles = []
        while len(fast_cycles) < 720 and time.time() - fill_started < 480:
            time.sleep(5)
            fast_cycles = [c for c in cycles_in(history_log) if c[0] == NODES and c[1] == NODES]
        cookie = sign_in(STATE)
        for path in ("/", "/nodes", "/gpus", "/nodes/gpu-node-0001"):
            timings(path, cookie, 2)
        rss_full = rss_mib(serve.pid)
        wasm = sorted(glob.glob(os.path.join(ROOT, "target", "site", "pkg", "*.wasm")))
        print()
        print(f"gpuboard dashboard benchmark: sim with {NODES} nodes x {GPUS} GPUs (ready in {sim_ready:.1f} s)")
        print(f"  GET /gpus (8,000 GPUs, SSR)  p50 {gpus_p50 * 1e3:7.1f} ms  p90 {gpus_p90 * 1e3:7.1f} ms  = {gpus_p50 / health_p50:6.0f}x /healthz")
        print(f"  GET / (overview, SSR)        p50 {overview_p50 * 1e3:7.1f} ms  p90 {overview_p90 * 1e3:7.1f} ms  = {overview_p50 / health_p50:6.0f}x /healthz")
        print(f"  GET /healthz (baseline)      p50 {health_p50 * 1e3:7.2f} ms")
        print(f"  API calls during those {views} page views: {lists} list, {reviews} access reviews")
        if full:
            print(f"  telemetry cycle over {NODES} exporters: median {statistics.median(full)} ms, max {max(full)} ms ({len(full)} cycles)")
        else:
            print(f"  telemetry: no full cycle seen ({cycles[-3:]})")
        print(f"  server RSS after warm-up: {rss_start:.0f} MiB")
        print(f"  server RSS with 720 samples per GPU (= 1 h at 5 s) after {time.time() - fill_started:.0f} s at 250 ms"
              f" ({len(fast_cycles)} full cycles): {rss_full:.0f} MiB = {rss_full / rss_start:.2f}x after warm-up")
        for w in wasm:
            raw = open(w, "rb").read()
            print(f"  {os.path.relpath(w, ROOT)} (release): {len(raw) / 1024:.0f} KiB, gzipped {len(gzip.compress(raw, 9)) / 1024:.0f} KiB")
    finally:
        for p in reversed(procs):
            stop(p)


if __name__ == "__main__":
    main()
