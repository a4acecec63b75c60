#!/usr/bin/env python3
"""Load benchmark: 200 signed-in users against `gpuboard-sim --nodes 1000 --gpus-per-node 8`.

The same release builds, sim and server as scripts/bench_dashboard.py (whose helpers it uses).
Each user is a service account of its own (namespace `load`, allowed to view through its
namespace's group), signed in through the sign-in form, as a browser is. For LOAD_SECONDS every
user reads a page every PAUSE seconds (overview, nodes, GPUs, queue, in turn from a random
start) and keeps the live-update channel (/events) open; on each update it pushes, the user
fetches the fresh numbers as the open page does (the page's server function, within a second). Before the
users come, each page and each fetch is timed with one user of the same kind (the idle
baseline, same run) and the server's RSS is read.

Printed: page views, fetches and their errors (any status but 200, any connection that failed,
counted when the request began before the end, however late it ended), p50 and p99 of each
page and fetch under load next to idle, live channels and what they pushed, RSS under load next
to idle, exporter failures during the load and the load generator's own CPU time.
It exits 1 instead of printing figures when a precondition fails (sign-in, warm-up), and exits
1 after printing them when any request failed or a user's live channel pushed nothing.

    scripts/bench.sh load              (about 12 minutes on 2 cores, most of it the builds)
    scripts/bench.sh load --no-build   (measure the release binaries already built)
"""

import json
import os
import random
import sys
import threading
import time
import http.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_dashboard as bench  # noqa: E402

USERS = 200
LOAD_SECONDS = 60
PAUSE = 5.0
PAGES = ["/", "/nodes", "/gpus", "/queue"]
# What an open page fetches when the channel says there are fresh numbers (its server function),
# at a random moment within SPREAD seconds of the update (frontend/src/live.rs).
SPREAD = 1.0
REFETCHES = ["/api/get_overview", "/api/list_nodes", "/api/list_gpus", "/api/get_queue"]
IDLE_VIEWS = 100
NAMESPACE = "load"


def percentile(samples, fraction):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def make_users(sim_addr):
    """USERS + 1 service accounts in NAMESPACE, allowed to view, and a token for each (the last
    one times the idle baseline)."""
    conn = bench.sim_connection(sim_addr)
    headers = {"Authorization": f"Bearer {bench.admin_token()}", "Content-Type": "application/json"}

    def post(path, body, ok=(201,)):
        status, _, answer = bench.request(conn, "POST", path, json.dumps(body), headers)
        if status not in ok:
            bench.fail(f"POST {path} answered {status}: {answer[:200]}")
        return answer

    post("/api/v1/namespaces", {"metadata": {"name": NAMESPACE}}, ok=(201, 409))
    post("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
        "metadata": {"name": "load-users-view"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                      "name": f"system:serviceaccounts:{NAMESPACE}"}]}, ok=(201, 409))
    tokens = []
    for i in range(USERS + 1):
        name = f"user-{i:03d}"
        post(f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts", {"metadata": {"name": name}}, ok=(201, 409))
        answer = post(f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{name}/token",
                      {"spec": {"expirationSeconds": 3600}})
        tokens.append(json.loads(answer)["status"]["token"])
    return tokens


class Tally:
    """What the users saw, shared by their threads. A request counts when it began before the
    end, however late it finished."""

    def __init__(self, end):
        self.end = end
        self.lock = threading.Lock()
        self.latencies = {path: [] for path in PAGES + REFETCHES}
        self.errors = []
        self.events = [0] * USERS
        self.reopened = 0

    def error(self, began, what):
        if began < self.end:
            with self.lock:
                self.errors.append(what)

    def took(self, began, path, seconds):
        if began < self.end:
            with self.lock:
                self.latencies[path].append(seconds)


def read_pages(addr, cookie, tally, user):
    """One user's page views: one every PAUSE seconds until the end."""
    time.sleep(random.uniform(0, PAUSE))
    turn = random.randrange(len(PAGES))
    conn = http.client.HTTPConnection(*addr, timeout=30)
    while time.time() < tally.end:
        path = PAGES[turn % len(PAGES)]
        turn += 1
        began, started = time.time(), time.perf_counter()
        try:
            status, _, _ = bench.request(conn, "GET", path, headers={"Cookie": cookie})
        except (OSError, http.client.HTTPException) as e:
            tally.error(began, f"{path}: {e!r}")
            conn.close()
            conn = http.client.HTTPConnection(*addr, timeout=30)
            time.sleep(PAUSE)
            continue
        took = time.perf_counter() - started
        if status != 200:
            tally.error(began, f"{path}: {status}")
        else:
            tally.took(began, path, took)
        time.sleep(max(0.0, PAUSE - took))


def refetch(addr, cookie, tally, user, count):
    """What the open page fetches after an update (on a connection of its own, as the browser's
    may be closed between updates)."""
    path = REFETCHES[(user + count) % len(REFETCHES)]
    conn = http.client.HTTPConnection(*addr, timeout=30)
    began, started = time.time(), time.perf_counter()
    try:
        status, _, _ = bench.request(conn, "GET", path, headers={"Cookie": cookie})
    except (OSError, http.client.HTTPException) as e:
        tally.error(began, f"{path}: {e!r}")
        return
    finally:
        conn.close()
    if status != 200:
        tally.error(began, f"{path}: {status}")
    else:
        tally.took(began, path, time.perf_counter() - started)


def follow_updates(addr, cookie, tally, user):
    """One user's live-update channel, reopened as a browser reopens it when the server ends it;
    after each update, the open page's fetch."""
    while time.time() < tally.end:
        conn = http.client.HTTPConnection(*addr, timeout=30)
        began = time.time()
        try:
            conn.request("GET", "/events", headers={"Cookie": cookie, "Accept": "text/event-stream"})
            response = conn.getresponse()
            if response.status != 200:
                tally.error(began, f"/events: {response.status}")
                time.sleep(1)
                continue
            while time.time() < tally.end:
                line = response.readline()
                if not line:
                    with tally.lock:
                        tally.reopened += 1
                    break
                if line.startswith(b"data:") and time.time() < tally.end:
                    with tally.lock:
                        tally.events[user] += 1
                        count = tally.events[user]
                    # As the page does: at a random moment within a second of the update.
                    threading.Timer(random.uniform(0, SPREAD), refetch,
                                    args=(addr, cookie, tally, user, count)).start()
        except (OSError, http.client.HTTPException) as e:
            tally.error(began if time.time() < tally.end else tally.end, f"/events: {e!r}")
            time.sleep(1)
        finally:
            conn.close()


def idle_baseline(addr, cookie):
    """Each page and each fetch after an update, IDLE_VIEWS times with one user (of the same
    kind as the load's), the server otherwise idle: {path: [seconds]}."""
    samples = {}
    for path in PAGES + REFETCHES:
        conn = http.client.HTTPConnection(*addr, timeout=30)
        bench.request(conn, "GET", path, headers={"Cookie": cookie})
        samples[path] = []
        for _ in range(IDLE_VIEWS):
            started = time.perf_counter()
            status, _, _ = bench.request(conn, "GET", path, headers={"Cookie": cookie})
            samples[path].append(time.perf_counter() - started)
            if status != 200:
                bench.fail(f"{path} answered {status} before the load")
        conn.close()
    return samples


def exporter_failures(addr, metrics):
    return bench.dashboard_stats(addr, metrics)["gpuboard_telemetry_exporter_failures_total"]


def main():
    if "--no-build" not in sys.argv:
        bench.build()
    metrics = bench.parser()
    os.makedirs(bench.STATE, exist_ok=True)
    procs = []
    try:
        sim = bench.Process([os.path.join(bench.RELEASE, "gpuboard-sim"), "--listen", "127.0.0.1:0",
                             "--state-dir", bench.STATE, "--nodes", str(bench.NODES),
                             "--gpus-per-node", str(bench.GPUS), "--exporter-port", "0"],
                            os.path.join(bench.STATE, "sim-load.log"))
        procs.append(sim)
        sim_addr = sim.address(180)
        server, addr = bench.serve(bench.STATE, "serve-load.log", [])
        procs.append(server)
        bench.wait_full_cycles(addr, metrics, 2, 180)
        tokens = make_users(sim_addr)
        idle = idle_baseline(addr, bench.sign_in(addr, tokens[USERS]))
        rss_idle = server.rss_mib()

        # Each user signs in and opens the overview once before the clock starts.
        cookies = []
        for token in tokens[:USERS]:
            cookie = bench.sign_in(addr, token)
            bench.timings(addr, "/", cookie, 1, warmup=0)
            cookies.append(cookie)
        failures_before = exporter_failures(addr, metrics)
        cpu_before = os.times()
        tally = Tally(time.time() + LOAD_SECONDS)
        readers = []
        for user, cookie in enumerate(cookies):
            for work in (read_pages, follow_updates):
                thread = threading.Thread(target=work, args=(addr, cookie, tally, user), daemon=True)
                thread.start()
                if work is read_pages:
                    readers.append(thread)
        rss_load = rss_idle
        while time.time() < tally.end:
            time.sleep(1)
            rss_load = max(rss_load, server.rss_mib())
        # Requests begun before the end are waited for (at most their 30 s timeout, and then some).
        for thread in readers:
            thread.join(max(0.0, tally.end + 35 - time.time()))
        stuck = sum(1 for thread in readers if thread.is_alive())
        cpu = os.times()
        client_cpu = (cpu.user - cpu_before.user) + (cpu.system - cpu_before.system)
        failures = exporter_failures(addr, metrics) - failures_before
        with tally.lock:
            errors = list(tally.errors) + [f"{stuck} page readers still waiting 35 s after the end"] * (stuck > 0)
            loaded = {path: list(v) for path, v in tally.latencies.items()}
            events = list(tally.events)
        silent = sum(1 for n in events if n == 0)
        pages = [t for path in PAGES for t in loaded[path]]

        print()
        print(f"gpuboard load benchmark: {USERS} signed-in users for {LOAD_SECONDS} s against gpuboard-sim with"
              f" {bench.NODES} nodes x {bench.GPUS} GPUs; each reads a page every {PAUSE:.0f} s (waiting for it"
              f" first, so a slow server is sampled less), keeps the live-update channel open and fetches"
              f" what the open page fetches after each update. Idle: one user, {IDLE_VIEWS} views of each.")
        print(f"  page views under load: {len(pages)}; fetches after updates:"
              f" {sum(len(loaded[p]) for p in REFETCHES)}; errors: {len(errors)}")
        for what in errors[:10]:
            print(f"    {what}")
        print(f"  {'':22} {'idle p50':>9} {'idle p99':>9} {'load p50':>9} {'load p99':>9} {'p50 x':>7} {'p99 x':>7}")
        for path in PAGES + REFETCHES:
            if not loaded[path]:
                print(f"  {path:22} no answers under load")
                continue
            i50, i99 = percentile(idle[path], 0.5), percentile(idle[path], 0.99)
            l50, l99 = percentile(loaded[path], 0.5), percentile(loaded[path], 0.99)
            print(f"  {path:22} {i50 * 1e3:7.1f}ms {i99 * 1e3:7.1f}ms {l50 * 1e3:7.1f}ms {l99 * 1e3:7.1f}ms"
                  f" {l50 / i50:6.2f}x {l99 / i99:6.2f}x")
        if pages:
            idle_pages = [t for path in PAGES for t in idle[path]]
            print(f"  all pages              p99 {percentile(idle_pages, 0.99) * 1e3:.1f} ms idle,"
                  f" {percentile(pages, 0.99) * 1e3:.1f} ms under load"
                  f" = {percentile(pages, 0.99) / percentile(idle_pages, 0.99):.2f}x")
        print(f"  live-update channels: {USERS}, updates pushed {sum(events)}"
              f" (fewest to one user {min(events)}), reopened {tally.reopened}, silent {silent}")
        print(f"  server RSS idle {rss_idle:.0f} MiB, under load (max) {rss_load:.0f} MiB = {rss_load / rss_idle:.2f}x idle")
        print(f"  exporter failures during the load: {failures:.0f}; the load generator's own CPU:"
              f" {client_cpu:.0f} s over {LOAD_SECONDS} s (on the same 2 cores)")
        if errors or silent or not pages:
            sys.exit("bench_load: requests failed or channels stayed silent (above)")
    finally:
        for p in reversed(procs):
            p.stop()


if __name__ == "__main__":
    main()
