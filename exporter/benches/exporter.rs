//! Exporter benchmark: encoding and serving `/metrics` for 1, 8 and 64 GPUs, each figure next to a
//! baseline measured in the same run (JSON encoding of the same snapshot; `/healthz` on the same
//! server over the same keep-alive connection). Run with `scripts/bench.sh` or
//! `cargo bench -p gpuboard-exporter --bench exporter`. Prints a table; asserts nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gpuboard_exporter::attribution::{AttributionMap, PodDevices};
use gpuboard_exporter::collector::Collector;
use gpuboard_exporter::fields::Schedule;
use gpuboard_exporter::metrics::{Format, render};
use gpuboard_exporter::server;
use gpuboard_exporter::source::{FieldErrors, GpuSource, SourceError, SystemInfo};
use gpuboard_exporter_api::{GpuFields, GpuIdentity, GpuProcess};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// `count` H100-like GPUs with every field set.
struct SyntheticGpus {
    count: usize,
}

impl GpuSource for SyntheticGpus {
    fn init(&self) -> Result<(SystemInfo, Vec<GpuIdentity>), SourceError> {
        let gpus = (0..self.count as u32)
            .map(|i| GpuIdentity {
                index: i,
                minor_number: Some(i),
                uuid: format!("GPU-{i:08x}-1111-2222-3333-444444444444"),
                name: "NVIDIA H100 80GB HBM3".into(),
                serial: Some(format!("1320{i:09}")),
                pci_bus_id: format!("00000000:{:02X}:00.0", 0x17 + i),
                memory_total_bytes: 85_520_809_984,
                power_limit_watts: Some(700.0),
                ecc_enabled: Some(true),
                compute_capability: Some("9.0".into()),
                mig_enabled: Some(false),
            })
            .collect();
        let info = SystemInfo {
            driver_version: Some("580.159.04".into()),
            cuda_version: Some("13.0".into()),
            nvml_version: Some("13.580.159.04".into()),
        };
        Ok((info, gpus))
    }

    fn sample(
        &self,
        index: usize,
        schedule: Schedule,
        f: &mut GpuFields,
        _: &mut FieldErrors,
    ) -> Result<(), SourceError> {
        let x = index as f64;
        match schedule {
            Schedule::Fast => {
                f.utilization_percent = Some(97.0 - x);
                f.memory_copy_utilization_percent = Some(41.0);
                f.encoder_utilization_percent = Some(0.0);
                f.decoder_utilization_percent = Some(0.0);
                f.memory_used_bytes = Some(70_000_000_000 + index as u64);
                f.memory_free_bytes = Some(15_000_000_000);
                f.memory_reserved_bytes = Some(520_000_000);
                f.temperature_celsius = Some(71.0);
                f.memory_temperature_celsius = Some(77.0);
                f.power_watts = Some(693.25);
                f.sm_clock_mhz = Some(1755.0);
                f.memory_clock_mhz = Some(2619.0);
            }
            Schedule::Slow => {
                f.total_energy_millijoules = Some(123_456_789_012);
                f.pcie_replay_count = Some(0);
                f.pcie_tx_bytes_per_second = Some(2.0e9);
                f.pcie_rx_bytes_per_second = Some(6.0e9);
                f.correctable_remapped_rows = Some(0);
                f.uncorrectable_remapped_rows = Some(0);
                f.row_remap_failure = Some(false);
            }
        }
        Ok(())
    }

    fn processes(&self, index: usize) -> Result<Vec<GpuProcess>, SourceError> {
        Ok(vec![GpuProcess {
            pid: 4242 + index as u32,
            used_memory_bytes: Some(69_000_000_000),
        }])
    }
}

/// A collector over `count` GPUs, every second GPU attributed to a pod.
fn collector(count: usize) -> Arc<Collector> {
    let c = Arc::new(Collector::new(
        "gpu-node-0001",
        Arc::new(SyntheticGpus { count }),
    ));
    c.collect_fast();
    c.collect_slow();
    let devices: Vec<PodDevices> = (0..count)
        .step_by(2)
        .map(|i| PodDevices {
            namespace: "team-a".into(),
            pod: format!("train-{i}"),
            container: "pytorch".into(),
            resource_name: "nvidia.com/gpu".into(),
            device_ids: vec![format!("GPU-{i:08x}-1111-2222-3333-444444444444")],
        })
        .collect();
    c.set_attribution(AttributionMap::build(&devices, &mut |_| None));
    c.collect_fast();
    c
}

/// Median and 99th percentile of timings.
fn percentiles(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    (times[times.len() / 2], times[times.len() * 99 / 100])
}

/// Median and 99th percentile of `runs` timings of `f`, after a warm-up of a tenth as many.
fn measure(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    for _ in 0..runs / 10 {
        f();
    }
    percentiles(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

/// Median and 99th percentile of `runs` GETs of `path` on `conn`, after a warm-up.
async fn measure_gets(conn: &mut Connection, path: &str, runs: usize) -> (Duration, Duration) {
    for _ in 0..runs / 10 {
        conn.get(path).await;
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        conn.get(path).await;
        times.push(t.elapsed());
    }
    percentiles(times)
}

/// A keep-alive HTTP/1.1 connection that GETs a path and reads the whole body.
struct Connection {
    reader: BufReader<tokio::net::TcpStream>,
    host: String,
}

impl Connection {
    async fn open(addr: std::net::SocketAddr) -> Self {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Connection {
            reader: BufReader::new(stream),
            host: addr.to_string(),
        }
    }

    async fn get(&mut self, path: &str) -> usize {
        let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.host);
        self.reader
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .expect("write");
        let mut length = 0;
        let mut line = String::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).await.expect("read header");
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("length");
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).await.expect("read body");
        length
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    println!(
        "exporter benchmark ({} build)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    println!();
    println!("encoding a snapshot (baseline: serde_json of the same snapshot)");
    println!(
        "{:>5} {:>12} {:>12} {:>10} {:>12} {:>8}",
        "GPUs", "text p50 us", "json p50 us", "text/json", "text bytes", "us/GPU"
    );
    for count in [1usize, 8, 64] {
        let c = collector(count);
        let snapshot = c.snapshot();
        let (text, _) = measure(2000, || {
            std::hint::black_box(render(&snapshot, Format::Prometheus));
        });
        let (json, _) = measure(2000, || {
            std::hint::black_box(serde_json::to_vec(&snapshot.gpus).expect("json"));
        });
        println!(
            "{count:>5} {:>12.1} {:>12.1} {:>10.2} {:>12} {:>8.2}",
            micros(text),
            micros(json),
            micros(text) / micros(json),
            render(&snapshot, Format::Prometheus).len(),
            micros(text) / count as f64
        );
    }
    println!();
    println!(
        "serving GET /metrics on loopback, keep-alive (baseline: GET /healthz on the same connection)"
    );
    println!(
        "{:>5} {:>14} {:>14} {:>16} {:>16}",
        "GPUs", "metrics p50 us", "metrics p99 us", "healthz p50 us", "metrics/healthz"
    );
    for count in [1usize, 8, 64] {
        let c = collector(count);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move { axum::serve(listener, server::router(c)).await });
        let mut conn = Connection::open(addr).await;
        let (health, _) = measure_gets(&mut conn, "/healthz", 3000).await;
        let (p50, p99) = measure_gets(&mut conn, "/metrics", 3000).await;
        println!(
            "{count:>5} {:>14.1} {:>14.1} {:>16.1} {:>16.2}",
            micros(p50),
            micros(p99),
            micros(health),
            micros(p50) / micros(health)
        );
        server.abort();
    }
    println!();
    println!(
        "process RSS after the runs: {:.1} MiB",
        rss_kib() as f64 / 1024.0
    );
}
