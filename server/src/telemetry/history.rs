//! A bounded history per GPU: a ring of compact samples (12 bytes each), so an hour at 5 s for
//! 8,000 GPUs stays near 70 MB.

use std::collections::VecDeque;
use std::time::Duration;

use gpuboard_exporter_api::GpuFields;

/// One point of a GPU's history. Fields the GPU does not report are None.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Unix seconds.
    pub at_s: i64,
    pub utilization_percent: Option<u8>,
    pub temperature_celsius: Option<u8>,
    pub power_watts: Option<u16>,
    pub memory_used_mib: Option<u32>,
}

/// Stored form: offsets and sentinels instead of Options keep it small.
#[derive(Debug, Clone, Copy)]
struct Packed {
    at_s: u32,
    memory_used_mib: u32,
    power_watts: u16,
    utilization: u8,
    temperature: u8,
}

const NONE_U8: u8 = u8::MAX;
const NONE_U16: u16 = u16::MAX;
const NONE_U32: u32 = u32::MAX;

impl Packed {
    /// `fields` at `at_s` seconds past the history's epoch, rounded and clamped to fit.
    fn of(at_s: u32, fields: &GpuFields) -> Packed {
        let clamp_u8 = |v: Option<f64>| v.map_or(NONE_U8, |v| v.round().clamp(0.0, 254.0) as u8);
        Packed {
            at_s,
            utilization: clamp_u8(fields.utilization_percent),
            temperature: clamp_u8(fields.temperature_celsius),
            power_watts: fields
                .power_watts
                .map_or(NONE_U16, |w| w.round().clamp(0.0, 65_534.0) as u16),
            memory_used_mib: fields.memory_used_bytes.map_or(NONE_U32, |b| {
                (b / (1024 * 1024)).min(u64::from(NONE_U32 - 1)) as u32
            }),
        }
    }

    /// The sample it holds, its epoch being `epoch_s`.
    fn unpacked(self, epoch_s: i64) -> Sample {
        let some_u8 = |v: u8| (v != NONE_U8).then_some(v);
        Sample {
            at_s: epoch_s + i64::from(self.at_s),
            utilization_percent: some_u8(self.utilization),
            temperature_celsius: some_u8(self.temperature),
            power_watts: (self.power_watts != NONE_U16).then_some(self.power_watts),
            memory_used_mib: (self.memory_used_mib != NONE_U32).then_some(self.memory_used_mib),
        }
    }
}

impl Sample {
    /// The sample of `fields` taken at `at_s` (Unix seconds), rounded as the history keeps it.
    pub fn of(at_s: i64, fields: &GpuFields) -> Sample {
        Packed::of(0, fields).unpacked(at_s)
    }
}

/// One GPU's history: at most `capacity` samples, the oldest dropped first.
pub struct GpuHistory {
    capacity: usize,
    /// Unix seconds that `at_s` offsets count from.
    epoch_s: i64,
    samples: VecDeque<Packed>,
}

impl GpuHistory {
    /// Room for `span` of samples taken every `interval` (at least one).
    pub fn new(span: Duration, interval: Duration) -> Self {
        let capacity = (span.as_millis() / interval.as_millis().max(1)).max(1) as usize;
        GpuHistory {
            capacity,
            epoch_s: 0,
            samples: VecDeque::with_capacity(capacity.min(64)),
        }
    }

    /// Adds the sample of `fields` taken at `at_ms` (Unix ms), dropping the oldest when full.
    pub fn push(&mut self, at_ms: i64, fields: &GpuFields) {
        let at_s = at_ms.div_euclid(1000);
        if self.samples.is_empty() {
            self.epoch_s = at_s;
        }
        let offset = u32::try_from(at_s - self.epoch_s).unwrap_or(0);
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back(Packed::of(offset, fields));
    }

    /// Every kept sample, oldest first.
    pub fn samples(&self) -> Vec<Sample> {
        self.samples
            .iter()
            .map(|p| p.unpacked(self.epoch_s))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_samples_within_its_span() {
        let mut h = GpuHistory::new(Duration::from_secs(15), Duration::from_secs(5));
        for i in 0..5i64 {
            let fields = GpuFields {
                utilization_percent: Some(i as f64 * 10.0),
                ..Default::default()
            };
            h.push(1_700_000_000_000 + i * 5000, &fields);
        }
        let s = h.samples();
        assert_eq!(s.len(), 3);
        assert_eq!(
            s.iter().map(|x| x.utilization_percent).collect::<Vec<_>>(),
            [Some(20), Some(30), Some(40)]
        );
        assert_eq!(s[2].at_s, 1_700_000_020);
        assert_eq!(
            (
                s[0].temperature_celsius,
                s[0].power_watts,
                s[0].memory_used_mib
            ),
            (None, None, None)
        );
    }

    #[test]
    fn values_are_rounded_and_bounded() {
        let mut h = GpuHistory::new(Duration::from_secs(60), Duration::from_secs(5));
        let fields = GpuFields {
            utilization_percent: Some(99.6),
            temperature_celsius: Some(300.0),
            power_watts: Some(693.4),
            memory_used_bytes: Some(3 * 1024 * 1024 * 1024),
            ..Default::default()
        };
        h.push(0, &fields);
        let s = h.samples()[0];
        assert_eq!(
            (
                s.utilization_percent,
                s.temperature_celsius,
                s.power_watts,
                s.memory_used_mib
            ),
            (Some(100), Some(254), Some(693), Some(3072))
        );
        assert_eq!(std::mem::size_of::<Packed>(), 12);
    }
}
