//! Workloads: what arrives when. Pod arrivals with lifetimes, or replica counts over time as an
//! HPA sets them; read from a CSV trace or made by a seeded generator.

use std::fmt::Write as _;
use std::path::Path;

use crate::model::quantity::{parse_millis, parse_units};

use super::SimError;
use super::rng::SplitMix64;

/// What one workload event does to its template's pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    /// This many new pods arrive (each runs for the event's duration once it runs).
    Arrivals(u32),
    /// The template (a Deployment, as an HPA scales it) now wants this many replicas: pods
    /// are created or deleted (unplaced ones first, then the newest) to match.
    Replicas(u32),
}

/// One event of a [`Workload`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadEvent {
    /// Seconds from the start of the simulation.
    pub at_seconds: u64,
    /// The pods' namespace.
    pub namespace: String,
    /// The template: pods are named `<template>-<n>`; when the scenario has pending pods of a
    /// workload of that name (`<template>-…` in the namespace), the first is the pod template
    /// (labels, tolerations, affinity), else the pod tolerates the virtual-kubelet taint.
    pub template: String,
    /// Arrivals or a replica count.
    pub change: Change,
    /// CPU request per pod in millicores (0: the template's own requests).
    pub cpu_millis: i64,
    /// Memory request per pod in bytes (0: the template's own requests).
    pub memory_bytes: i64,
    /// Seconds each pod runs once it runs (arrivals only; `None`: to the end).
    pub duration_seconds: Option<u64>,
}

/// A workload: events by time (stable for equal times).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workload {
    /// A short description (`flash-crowd`, `csv:path`, `alibaba-2017`, ...), in the report.
    pub name: String,
    /// The events, sorted by `at_seconds` (ties keep their order).
    pub events: Vec<WorkloadEvent>,
}

impl Workload {
    /// A workload of `events`, sorted by time (stable).
    pub fn new(name: impl Into<String>, mut events: Vec<WorkloadEvent>) -> Workload {
        events.sort_by_key(|e| e.at_seconds);
        Workload { name: name.into(), events }
    }

    /// Pods that arrive through `Arrivals` events (replica changes not counted).
    pub fn arrivals(&self) -> u64 {
        self.events.iter().map(|e| if let Change::Arrivals(n) = e.change { u64::from(n) } else { 0 }).sum()
    }

    /// The time of the last event, in seconds.
    pub fn last_event_seconds(&self) -> u64 {
        self.events.last().map_or(0, |e| e.at_seconds)
    }

    /// Reads a CSV trace from `path`; see [`Workload::from_csv_str`].
    ///
    /// # Errors
    ///
    /// [`SimError::Read`] when the file cannot be read, [`SimError::Csv`] naming `file:line`
    /// for a bad row.
    pub fn from_csv_file(path: impl AsRef<Path>) -> Result<Workload, SimError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| SimError::Read { path: path.display().to_string(), source })?;
        Workload::from_csv_str(&path.display().to_string(), &text)
    }

    /// Parses a CSV trace. The header names the columns, in any order:
    /// `time,namespace,template,arrivals,cpu,memory,duration` (pod arrivals), or with
    /// `replicas` instead of `arrivals` (replica counts over time). `time` and `duration` are
    /// seconds (decimals are truncated), `cpu` and `memory` Kubernetes quantities (`500m`,
    /// `1Gi`; empty: the template's requests), `duration` may be empty (runs to the end).
    /// Blank lines and lines starting with `#` are skipped.
    ///
    /// ```
    /// use spillway::sim::{Change, Workload};
    /// let w = Workload::from_csv_str("trace.csv", "time,namespace,template,replicas,cpu,memory,duration\n\
    ///     0,shop,web,3,500m,1Gi,\n60,shop,web,10,500m,1Gi,\n")?;
    /// assert_eq!(w.events[1].change, Change::Replicas(10));
    /// let err = Workload::from_csv_str("trace.csv", "time,namespace,template,arrivals,cpu,memory,duration\n\
    ///     0,shop,web,lots,1,1Gi,60\n").unwrap_err();
    /// assert_eq!(err.to_string(), "trace.csv:2: column arrivals: \"lots\" is not a whole number");
    /// # Ok::<(), spillway::sim::SimError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`SimError::Csv`] naming `file:line` and the column.
    pub fn from_csv_str(file: &str, text: &str) -> Result<Workload, SimError> {
        let err = |line: usize, message: String| SimError::Csv { file: file.to_string(), line, message };
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
        let Some((header_at, header)) = lines.next() else {
            return Err(err(1, "empty file: expected a header line".into()));
        };
        let names: Vec<String> = header.split(',').map(|c| c.trim().to_ascii_lowercase()).collect();
        let col = |name: &str| names.iter().position(|n| n == name);
        let replicas = col("replicas");
        let arrivals = col("arrivals");
        let count_col = match (replicas, arrivals) {
            (Some(i), None) | (None, Some(i)) => i,
            (Some(_), Some(_)) => return Err(err(header_at + 1, "header has both `replicas` and `arrivals`".into())),
            (None, None) => {
                return Err(err(
                    header_at + 1,
                    format!(
                        "header {header:?} needs the columns time,namespace,template,replicas|arrivals,cpu,memory,duration"
                    ),
                ));
            }
        };
        let mut required = Vec::new();
        for name in ["time", "namespace", "template", "cpu", "memory", "duration"] {
            match col(name) {
                Some(i) => required.push(i),
                None => return Err(err(header_at + 1, format!("header {header:?} has no `{name}` column"))),
            }
        }
        let (time, namespace, template, cpu, memory, duration) =
            (required[0], required[1], required[2], required[3], required[4], required[5]);
        let mut events = Vec::new();
        for (i, line) in lines {
            let n = i + 1;
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            if cells.len() != names.len() {
                return Err(err(n, format!("{} columns, the header has {}", cells.len(), names.len())));
            }
            let seconds = |c: usize, name: &str| -> Result<u64, SimError> {
                let v: f64 = cells[c]
                    .parse()
                    .map_err(|_| err(n, format!("column {name}: {:?} is not a number of seconds", cells[c])))?;
                if !v.is_finite() || !(0.0..=1e12).contains(&v) {
                    return Err(err(n, format!("column {name}: {:?} is not a number of seconds ≥ 0", cells[c])));
                }
                Ok(v as u64)
            };
            let at_seconds = seconds(time, "time")?;
            let count: u32 = cells[count_col].parse().map_err(|_| {
                err(n, format!("column {}: {:?} is not a whole number", names[count_col], cells[count_col]))
            })?;
            let cpu_millis = match cells[cpu] {
                "" => 0,
                c => parse_millis(c).map_err(|e| err(n, format!("column cpu: {e}")))?,
            };
            let memory_bytes = match cells[memory] {
                "" => 0,
                m => parse_units(m).map_err(|e| err(n, format!("column memory: {e}")))?,
            };
            let duration_seconds = match cells[duration] {
                "" => None,
                _ => Some(seconds(duration, "duration")?),
            };
            for (c, name) in [(namespace, "namespace"), (template, "template")] {
                if cells[c].is_empty() {
                    return Err(err(n, format!("column {name} is empty")));
                }
            }
            let change = if replicas.is_some() { Change::Replicas(count) } else { Change::Arrivals(count) };
            events.push(WorkloadEvent {
                at_seconds,
                namespace: cells[namespace].to_string(),
                template: cells[template].to_string(),
                change,
                cpu_millis,
                memory_bytes,
                duration_seconds,
            });
        }
        Ok(Workload::new(format!("csv:{file}"), events))
    }

    /// The workload as CSV, the format [`from_csv_str`](Self::from_csv_str) reads: with a
    /// `replicas` column when the first event is a replica count, else `arrivals`. A CSV holds
    /// one kind, so a workload mixing both is written with the first event's kind throughout.
    pub fn to_csv(&self) -> String {
        let replicas = self.events.first().is_some_and(|e| matches!(e.change, Change::Replicas(_)));
        let mut out =
            format!("time,namespace,template,{},cpu,memory,duration\n", if replicas { "replicas" } else { "arrivals" });
        for e in &self.events {
            let n = match e.change {
                Change::Arrivals(n) | Change::Replicas(n) => n,
            };
            let cpu = if e.cpu_millis == 0 { String::new() } else { format!("{}m", e.cpu_millis) };
            let memory = if e.memory_bytes == 0 { String::new() } else { e.memory_bytes.to_string() };
            let duration = e.duration_seconds.map(|d| d.to_string()).unwrap_or_default();
            let _ = writeln!(out, "{},{},{},{n},{cpu},{memory},{duration}", e.at_seconds, e.namespace, e.template);
        }
        out
    }
}

/// A flash crowd on one Deployment, as its HPA would scale it: `baseline` replicas, a ramp to
/// `peak` starting at `start_seconds` over `ramp_seconds`, held for `hold_seconds`, then back
/// down to `baseline` over `decay_seconds`; a replica count every `step_seconds` (the HPA's
/// sync period is 15 s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashCrowd {
    /// Namespace.
    pub namespace: String,
    /// Template (Deployment) name.
    pub template: String,
    /// CPU request per pod in millicores (0: the template's).
    pub cpu_millis: i64,
    /// Memory request per pod in bytes (0: the template's).
    pub memory_bytes: i64,
    /// Replicas before and after the crowd.
    pub baseline: u32,
    /// Replicas at the peak.
    pub peak: u32,
    /// When the ramp starts.
    pub start_seconds: u64,
    /// Length of the ramp up.
    pub ramp_seconds: u64,
    /// Time at the peak.
    pub hold_seconds: u64,
    /// Length of the ramp down.
    pub decay_seconds: u64,
    /// Seconds between replica counts.
    pub step_seconds: u64,
}

impl FlashCrowd {
    /// The replica counts, one event per step from 0 to the end of the decay (plus one
    /// `step_seconds` later), each a change from the previous count.
    pub fn workload(&self) -> Workload {
        let step = self.step_seconds.max(1);
        let end = self.start_seconds + self.ramp_seconds + self.hold_seconds + self.decay_seconds + step;
        let (base, peak) = (i64::from(self.baseline), i64::from(self.peak));
        let mut events = Vec::new();
        let mut last = None;
        let mut t = 0;
        while t <= end {
            let replicas = if t < self.start_seconds {
                base
            } else if t < self.start_seconds + self.ramp_seconds {
                let done = (t - self.start_seconds) as i64;
                base + (peak - base) * done / self.ramp_seconds.max(1) as i64
            } else if t < self.start_seconds + self.ramp_seconds + self.hold_seconds {
                peak
            } else {
                let done = (t - self.start_seconds - self.ramp_seconds - self.hold_seconds) as i64;
                let d = self.decay_seconds.max(1) as i64;
                (peak - (peak - base) * done.min(d) / d).max(base)
            };
            if last != Some(replicas) {
                events.push(WorkloadEvent {
                    at_seconds: t,
                    namespace: self.namespace.clone(),
                    template: self.template.clone(),
                    change: Change::Replicas(replicas.clamp(0, i64::from(u32::MAX)) as u32),
                    cpu_millis: self.cpu_millis,
                    memory_bytes: self.memory_bytes,
                    duration_seconds: None,
                });
                last = Some(replicas);
            }
            t += step;
        }
        Workload::new("flash-crowd", events)
    }
}

/// Pod arrivals over whole days with a daily cycle: a Poisson process whose rate follows
/// `mean · (1 + amplitude · sin(2π (t − 6 h) / 24 h))` (lowest at midnight, highest at noon),
/// each pod running for an exponentially distributed time, from a seeded generator.
#[derive(Debug, Clone, PartialEq)]
pub struct Diurnal {
    /// Namespace.
    pub namespace: String,
    /// Template name.
    pub template: String,
    /// CPU request per pod in millicores.
    pub cpu_millis: i64,
    /// Memory request per pod in bytes.
    pub memory_bytes: i64,
    /// Total pods expected over the run (the mean rate is this over `hours`).
    pub pods: u64,
    /// Length in hours.
    pub hours: u64,
    /// Swing of the rate around its mean, 0–1.
    pub amplitude: f64,
    /// Mean pod lifetime in seconds.
    pub mean_duration_seconds: u64,
}

impl Diurnal {
    /// The arrivals for `seed` (the same seed, the same workload), one event per second that
    /// has arrivals.
    pub fn workload(&self, seed: u64) -> Workload {
        let mut rng = SplitMix64::new(seed);
        let total = (self.hours * 3600) as f64;
        let mean_rate = self.pods as f64 / total.max(1.0);
        let amplitude = self.amplitude.clamp(0.0, 1.0);
        let peak_rate = mean_rate * (1.0 + amplitude);
        let mut events = Vec::new();
        let mut t = 0.0;
        if peak_rate <= 0.0 {
            return Workload::new("diurnal", events);
        }
        loop {
            // Thinning: candidates at the peak rate, kept with probability rate(t)/peak.
            t += rng.exponential(1.0 / peak_rate);
            if t >= total {
                break;
            }
            let phase = 2.0 * std::f64::consts::PI * (t - 6.0 * 3600.0) / 86_400.0;
            let rate = mean_rate * (1.0 + amplitude * phase.sin());
            if rng.unit() * peak_rate > rate {
                continue;
            }
            let duration = rng.exponential(self.mean_duration_seconds as f64).round().max(1.0) as u64;
            events.push(WorkloadEvent {
                at_seconds: t as u64,
                namespace: self.namespace.clone(),
                template: self.template.clone(),
                change: Change::Arrivals(1),
                cpu_millis: self.cpu_millis,
                memory_bytes: self.memory_bytes,
                duration_seconds: Some(duration),
            });
        }
        Workload::new("diurnal", events)
    }
}
