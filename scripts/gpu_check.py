#!/usr/bin/env python3
"""GPU check for `gpuboard-exporter` on a machine with NVIDIA GPUs (the `device` tool's H100).

Runs the exporter crate's tests that need a GPU (ignored elsewhere), starts the exporter, compares
every value with `nvidia-smi --query-gpu` taken at the same time, loads the GPU with PyTorch and
checks that utilization goes above 90% and memory used rises, and measures, in the same run, time
to ready, scrape latency (against /healthz), exporter RSS and CPU, against one `nvidia-smi` query
and a pynvml loop over the same fields.

    python3 scripts/gpu_check.py --exporter device-bin/gpuboard-exporter \
        --nvml-tests device-bin/gpuboard-exporter-tests [--out DIR]

Writes a dated Markdown report to DIR (default $OUT or .) and exits 1 when a check fails, 2 when
it cannot run here (no NVIDIA GPU): it never reports success where it could not run.
"""

import argparse
import datetime
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

NVML_LIB = "/usr/local/nvidia/lib64/libnvidia-ml.so.1"
PORT = 19400
SMI_FIELDS = "index,uuid,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw,clocks.sm,clocks.mem"
LOAD = r"""
import time, torch
n = 8192
a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
hold = torch.empty(int(8 * 1024**3), dtype=torch.uint8, device="cuda")  # 8 GiB more in use
end = time.time() + float(__import__("sys").argv[1])
while time.time() < end:
    for _ in range(50):
        a = a @ b
    torch.cuda.synchronize()
print("load done")
"""

results = []  # (check, passed, detail)
lines = []


def say(text=""):
    print(text, flush=True)
    lines.append(text)


def check(name, passed, detail):
    results.append((name, passed, detail))
    say(f"- {'PASS' if passed else 'FAIL'} {name}: {detail}")


def get(conn, path):
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read()


def exporter_gpus():
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
    status, body = get(conn, "/api/v1/gpus")
    conn.close()
    return json.loads(body)


def smi():
    out = subprocess.run(
        ["nvidia-smi", f"--query-gpu={SMI_FIELDS}", "--format=csv,noheader,nounits"],
        capture_output=True, text=True, check=True,
    ).stdout
    rows = []
    for line in out.strip().splitlines():
        f = [x.strip() for x in line.split(",")]
        num = lambda s: float(s) if s not in ("[N/A]", "N/A", "") else None
        rows.append({"index": int(f[0]), "uuid": f[1], "util": num(f[2]), "mem_used_mib": num(f[3]),
                     "mem_total_mib": num(f[4]), "temp": num(f[5]), "power": num(f[6]),
                     "sm_clock": num(f[7]), "mem_clock": num(f[8])})
    return rows


def proc_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu_s = (int(fields[11]) + int(fields[12])) / ticks
    with open(f"/proc/{pid}/status") as f:
        rss_kib = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    return cpu_s, rss_kib


def compare(label, tolerance_util=5.0):
    """Samples nvidia-smi and the exporter back to back and checks each GPU's values."""
    before = exporter_gpus()
    rows = smi()
    after = exporter_gpus()
    say(f"\n{label}: nvidia-smi vs exporter")
    for row in rows:
        gpu = next((g for g in after["gpus"] if g["uuid"] == row["uuid"]), None)
        if gpu is None:
            check(f"{label} GPU {row['index']} reported", False, "the exporter does not list it")
            continue
        prev = next(g for g in before["gpus"] if g["uuid"] == row["uuid"])
        total_mib = gpu["memoryTotalBytes"] / 2**20
        used_mib = gpu["memoryUsedBytes"] / 2**20
        reserved_mib = (gpu.get("memoryReservedBytes") or 0) / 2**20
        # nvidia-smi's "used" may or may not count reserved memory depending on the driver: accept either.
        mem_err = min(abs(used_mib - row["mem_used_mib"]), abs(used_mib + reserved_mib - row["mem_used_mib"]))
        check(f"{label} GPU {row['index']} memory", mem_err <= 0.01 * total_mib,
              f"smi {row['mem_used_mib']:.0f} MiB, exporter {used_mib:.0f} (+{reserved_mib:.0f} reserved) MiB of {total_mib:.0f}")
        util_ok = any(abs(g["utilizationPercent"] - row["util"]) <= tolerance_util for g in (gpu, prev))
        check(f"{label} GPU {row['index']} utilization", util_ok,
              f"smi {row['util']:.0f}%, exporter {gpu['utilizationPercent']:.0f}% (previous sample {prev['utilizationPercent']:.0f}%)")
        temp_ok = any(abs(g["temperatureCelsius"] - row["temp"]) <= 2 for g in (gpu, prev))
        check(f"{label} GPU {row['index']} temperature", temp_ok, f"smi {row['temp']:.0f} C, exporter {gpu['temperatureCelsius']:.0f} C")
        power_ok = any(abs(g["powerWatts"] - row["power"]) <= 0.05 * max(row["power"], 1.0) for g in (gpu, prev))
        check(f"{label} GPU {row['index']} power", power_ok, f"smi {row['power']:.1f} W, exporter {gpu['powerWatts']:.1f} W")
    return after


def pynvml_loop(rounds=300):
    try:
        import pynvml
    except ImportError:
        return None
    pynvml.nvmlInit()
    handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
    start = time.perf_counter()
    for _ in range(rounds):
        for h in handles:
            pynvml.nvmlDeviceGetUtilizationRates(h)
            pynvml.nvmlDeviceGetMemoryInfo(h)
            pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU)
            pynvml.nvmlDeviceGetPowerUsage(h)
            pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM)
            pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_MEM)
            pynvml.nvmlDeviceGetComputeRunningProcesses(h)
    per_round = (time.perf_counter() - start) / rounds
    pynvml.nvmlShutdown()
    return per_round


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exporter", default="device-bin/gpuboard-exporter")
    parser.add_argument("--nvml-tests", default="device-bin/gpuboard-exporter-tests",
                        help="the exporter crate's integration test binary (its GPU tests run with --ignored)")
    parser.add_argument("--out", default=os.environ.get("OUT", "."))
    parser.add_argument("--load-seconds", type=float, default=20.0)
    args = parser.parse_args()
    if shutil.which("nvidia-smi") is None:
        print("cannot run here: no nvidia-smi on this machine; run this on a GPU machine", file=sys.stderr)
        return 2
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    say(f"# gpuboard exporter GPU check, {stamp}")
    say(subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"], capture_output=True, text=True).stdout.strip())

    lib = ["--nvml-lib", NVML_LIB] if os.path.exists(NVML_LIB) else []
    os.makedirs(args.out, exist_ok=True)
    tests = subprocess.run([args.nvml_tests, "--ignored", "--test-threads", "1"],
                           env=dict(os.environ, GPUBOARD_NVML_LIB=NVML_LIB) if lib else None,
                           capture_output=True, text=True)
    check("the exporter's GPU tests pass", tests.returncode == 0,
          (tests.stdout.strip().splitlines() or ["no output"])[-1] + ("" if tests.returncode == 0 else "\n" + tests.stdout[-3000:] + tests.stderr[-3000:]))
    # The exporter's log goes to a file, so a chatty exporter can never block on a full pipe.
    log_path = os.path.join(args.out, "gpu-check-exporter.log")
    log = open(log_path, "w")
    started = time.perf_counter()
    proc = subprocess.Popen([args.exporter, "--listen", f"127.0.0.1:{PORT}", "--interval", "1s",
                             "--node-name", "gpu-check", "--kubelet-socket", "/nonexistent/kubelet.sock", *lib],
                            stdout=log, stderr=log)
    ready_after = None
    while time.perf_counter() - started < 10:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=1)
            status, _ = get(conn, "/readyz")
            conn.close()
            if status == 200:
                ready_after = time.perf_counter() - started
                break
        except OSError:
            pass
        time.sleep(0.005)
    check("ready within 1 s of start", ready_after is not None and ready_after <= 1.0,
          f"{ready_after:.3f} s" if ready_after else "never ready in 10 s")
    if ready_after is None:
        proc.kill()
        print(open(log_path).read())
        return 1

    time.sleep(2)
    idle = compare("idle")

    # CPU and RSS at idle over 30 s at --interval 1s.
    cpu0, _ = proc_stat(proc.pid)
    time.sleep(30)
    cpu1, rss_kib = proc_stat(proc.pid)
    cpu_pct = (cpu1 - cpu0) / 30 * 100
    check("CPU at --interval 1s <= 1% of a core", cpu_pct <= 1.0, f"{cpu_pct:.2f}% of a core over 30 s")
    check("RSS <= 15 MiB", rss_kib / 1024 <= 15, f"{rss_kib / 1024:.1f} MiB")

    # Scrape latency, keep-alive, against /healthz on the same connection.
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)

    def timings(path, n=2000):
        for _ in range(200):
            get(conn, path)
        out = []
        for _ in range(n):
            t = time.perf_counter()
            get(conn, path)
            out.append(time.perf_counter() - t)
        out.sort()
        return out[n // 2], out[n * 99 // 100]

    health_p50, _ = timings("/healthz")
    metrics_p50, metrics_p99 = timings("/metrics")
    conn.close()
    check("scrape p50 <= 100 us", metrics_p50 <= 100e-6,
          f"/metrics p50 {metrics_p50 * 1e6:.0f} us, p99 {metrics_p99 * 1e6:.0f} us; /healthz p50 {health_p50 * 1e6:.0f} us "
          f"(ratio {metrics_p50 / health_p50:.2f}; Python client overhead is in both)")

    smi_times = []
    for _ in range(10):
        t = time.perf_counter()
        smi()
        smi_times.append(time.perf_counter() - t)
    smi_mean = statistics.mean(smi_times)
    pynvml_round = pynvml_loop()
    say(f"\nbaselines: one nvidia-smi query {smi_mean * 1e3:.1f} ms "
        f"({smi_mean / metrics_p50:.0f}x a scrape); "
        + (f"pynvml round over the same fields {pynvml_round * 1e6:.0f} us ({pynvml_round / metrics_p50:.1f}x a scrape)"
           if pynvml_round else "pynvml not installed"))

    # Load with PyTorch and watch utilization and memory rise.
    load = subprocess.Popen([sys.executable, "-c", LOAD, str(args.load_seconds)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak_util, peak_mem = 0.0, 0
    deadline = time.time() + args.load_seconds
    loaded = None
    while time.time() < deadline and load.poll() is None:
        time.sleep(1)
        now = exporter_gpus()
        g = now["gpus"][0]
        peak_util = max(peak_util, g["utilizationPercent"])
        peak_mem = max(peak_mem, g["memoryUsedBytes"])
        if time.time() > deadline - args.load_seconds / 2 and loaded is None and g["utilizationPercent"] > 90:
            loaded = compare("under load")
    idle_mem = idle["gpus"][0]["memoryUsedBytes"]
    check("utilization above 90% under PyTorch load", peak_util > 90, f"peak {peak_util:.0f}%")
    check("memory used rises under load", peak_mem > idle_mem + 2**30,
          f"idle {idle_mem / 2**20:.0f} MiB, peak {peak_mem / 2**20:.0f} MiB")
    load.wait()
    if load.returncode != 0:
        say(f"PyTorch load failed: {load.stderr.read().decode(errors='replace')[-2000:]}")

    proc.terminate()
    proc.wait()
    failed = [r for r in results if not r[1]]
    say(f"\n{len(results) - len(failed)} of {len(results)} checks passed")
    name = os.path.join(args.out, f"gpu-check-{datetime.date.today().isoformat()}.md")
    with open(name, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"report: {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
