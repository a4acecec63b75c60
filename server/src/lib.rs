//! gpuboard's server library: the dashboard's backend, the NVML exporter and the simulated cluster.

pub mod auth;
pub mod cluster;
pub mod exporter;
pub mod serve;
pub mod sim;
pub mod telemetry;
