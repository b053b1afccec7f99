//! Real traces as [`Workload`]s: Alibaba 2017 batch tasks, the Alibaba 2023 GPU cluster's pods,
//! Google 2011 job arrivals and Azure LLM request arrivals.
//!
//! Each reads the files as published (see the `SOURCE.md` beside them in spillway's shared
//! data: origin, license, columns) from a directory given by the caller; a missing file is a
//! [`SimError::MissingData`] saying where it was looked for. Times start at 0 at the trace's
//! first arrival. What a trace lacks (requests, lifetimes) is filled in as each function says,
//! from [`TraceOptions`].

use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::SimError;
use super::rng::SplitMix64;
use super::workload::{Change, Workload, WorkloadEvent};

/// A trace spillway reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trace {
    /// `alibaba-v2017-batch-task/batch_task.csv`.
    Alibaba2017,
    /// `alibaba-gpu-v2023/openb_pod_list_default.csv`.
    AlibabaGpu2023,
    /// `google-2011-job-arrivals/job_submits_per_5min.csv`.
    Google2011,
    /// `azure-llm-inference-2023/AzureLLMInferenceTrace_conv.csv`.
    AzureLlm,
}

impl Trace {
    /// Every trace.
    pub const ALL: [Trace; 4] = [Trace::Alibaba2017, Trace::AlibabaGpu2023, Trace::Google2011, Trace::AzureLlm];

    /// The command-line name (`alibaba-2017`, `alibaba-gpu-2023`, `google-2011`, `azure-llm`).
    pub fn name(self) -> &'static str {
        match self {
            Trace::Alibaba2017 => "alibaba-2017",
            Trace::AlibabaGpu2023 => "alibaba-gpu-2023",
            Trace::Google2011 => "google-2011",
            Trace::AzureLlm => "azure-llm",
        }
    }

    /// The file under the data directory.
    pub fn file(self) -> &'static str {
        match self {
            Trace::Alibaba2017 => "alibaba-v2017-batch-task/batch_task.csv",
            Trace::AlibabaGpu2023 => "alibaba-gpu-v2023/openb_pod_list_default.csv",
            Trace::Google2011 => "google-2011-job-arrivals/job_submits_per_5min.csv",
            Trace::AzureLlm => "azure-llm-inference-2023/AzureLLMInferenceTrace_conv.csv",
        }
    }

    /// Reads the trace from `data_dir` (the folder holding the traces' folders).
    ///
    /// # Errors
    ///
    /// [`SimError::MissingData`] when the file is not there, [`SimError::Read`] or
    /// [`SimError::Csv`] (with `file:line`) when it cannot be read.
    pub fn load(self, data_dir: impl AsRef<Path>, options: &TraceOptions) -> Result<Workload, SimError> {
        let path = data_dir.as_ref().join(self.file());
        let text = read(&path)?;
        let file = path.display().to_string();
        match self {
            Trace::Alibaba2017 => alibaba_2017(&file, &text, options),
            Trace::AlibabaGpu2023 => alibaba_gpu_2023(&file, &text, options),
            Trace::Google2011 => google_2011(&file, &text, options),
            Trace::AzureLlm => azure_llm(&file, &text, options),
        }
    }
}

impl FromStr for Trace {
    type Err = String;
    fn from_str(s: &str) -> Result<Trace, String> {
        Trace::ALL.into_iter().find(|t| t.name() == s).ok_or_else(|| {
            format!(
                "unknown trace {s:?}: expected one of {}",
                Trace::ALL.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ")
            )
        })
    }
}

/// How a trace becomes a workload.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceOptions {
    /// Namespace of the pods.
    pub namespace: String,
    /// Template (workload) name of the pods.
    pub template: String,
    /// Fraction of the trace's pods kept (Alibaba 2017: of each task's instances, with the
    /// rounding carried over so the total is `scale ×` the trace's; Google: of each bin's
    /// jobs).
    pub scale: f64,
    /// Keep only arrivals in the first `hours` of the trace.
    pub hours: Option<u64>,
    /// Divide the trace's times (arrivals and lifetimes) by this (the GPU trace spans 149
    /// days).
    pub speedup: u64,
    /// Seed for what a trace lacks (Google: lifetimes).
    pub seed: u64,
    /// CPU request of a pod when the trace has none, in millicores.
    pub cpu_millis: i64,
    /// Memory request of a pod when the trace has none, in bytes.
    pub memory_bytes: i64,
    /// Mean lifetime in seconds when the trace has none (Google: exponential).
    pub mean_duration_seconds: u64,
    /// Alibaba 2017: the memory of the largest machine, to which requests are normalised.
    pub machine_memory_bytes: i64,
    /// Azure LLM: requests per second one pod serves (replicas follow the last minute's
    /// rate, recomputed every 15 s as an HPA would).
    pub requests_per_pod_second: f64,
}

impl Default for TraceOptions {
    fn default() -> TraceOptions {
        TraceOptions {
            namespace: "trace".into(),
            template: "task".into(),
            scale: 1.0,
            hours: None,
            speedup: 1,
            seed: 42,
            cpu_millis: 1000,
            memory_bytes: 2 << 30,
            mean_duration_seconds: 1800,
            machine_memory_bytes: 64 << 30,
            requests_per_pod_second: 0.05,
        }
    }
}

fn read(path: &PathBuf) -> Result<String, SimError> {
    if !path.exists() {
        return Err(SimError::MissingData {
            path: path.display().to_string(),
            hint: "pass the folder holding the traces (spillway's shared data, with its SOURCE.md files) \
                   with --data-dir"
                .into(),
        });
    }
    std::fs::read_to_string(path).map_err(|source| SimError::Read { path: path.display().to_string(), source })
}

fn csv_err(file: &str, line: usize, message: impl Into<String>) -> SimError {
    SimError::Csv { file: file.to_string(), line, message: message.into() }
}

/// Rows of a CSV with a header: (1-based line, cells).
fn rows(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l.split(',').map(str::trim).collect()))
}

fn num<T: FromStr>(file: &str, line: usize, cells: &[&str], i: usize, what: &str) -> Result<T, SimError> {
    let cell = cells.get(i).copied().unwrap_or("");
    cell.parse().map_err(|_| csv_err(file, line, format!("column {what}: {cell:?} is not a number")))
}

/// Keeps events within the window, shifted to start at 0 and sped up.
fn finish(name: String, mut events: Vec<WorkloadEvent>, options: &TraceOptions) -> Workload {
    let speedup = options.speedup.max(1);
    let first = events.iter().map(|e| e.at_seconds).min().unwrap_or(0);
    for e in &mut events {
        e.at_seconds = (e.at_seconds - first) / speedup;
        e.duration_seconds = e.duration_seconds.map(|d| (d / speedup).max(1));
    }
    if let Some(h) = options.hours {
        events.retain(|e| e.at_seconds < h * 3600);
    }
    Workload::new(name, events)
}

/// Alibaba 2017 batch tasks: each task (a gang of identical instances) becomes `scale ×` its
/// instances arriving at its create time, each running until the task's end time; CPU from
/// `plan_cpu` (100 = 1 core), memory from `plan_mem` × [`machine_memory_bytes`](TraceOptions::machine_memory_bytes).
/// Tasks without requests (`Waiting`) are skipped.
fn alibaba_2017(file: &str, text: &str, o: &TraceOptions) -> Result<Workload, SimError> {
    let mut events = Vec::new();
    let mut carry = 0.0f64;
    for (line, cells) in rows(text) {
        if cells.len() < 8 {
            return Err(csv_err(file, line, format!("{} columns, expected 8", cells.len())));
        }
        if cells[6].is_empty() || cells[7].is_empty() {
            continue;
        }
        let create: i64 = num(file, line, &cells, 0, "task_create_time")?;
        let end: i64 = num(file, line, &cells, 1, "task_end_time")?;
        let instances: u64 = num(file, line, &cells, 4, "number_of_instances")?;
        let cpu: f64 = num(file, line, &cells, 6, "plan_cpu")?;
        let mem: f64 = num(file, line, &cells, 7, "plan_mem")?;
        carry += instances as f64 * o.scale;
        let n = carry.floor();
        carry -= n;
        if n < 1.0 {
            continue;
        }
        events.push(WorkloadEvent {
            // Shifted to start at 0 by `finish` (the trace starts before 0).
            at_seconds: (create + 1_000_000).max(0) as u64,
            namespace: o.namespace.clone(),
            template: o.template.clone(),
            change: Change::Arrivals(n as u32),
            cpu_millis: (cpu * 10.0).round().max(1.0) as i64,
            memory_bytes: (mem * o.machine_memory_bytes as f64).round().max(1.0) as i64,
            duration_seconds: Some((end - create).max(1) as u64),
        });
    }
    Ok(finish("alibaba-2017".into(), events, o))
}

/// Alibaba 2023 GPU cluster: each pod arrives at its `creation_time` and runs until its
/// `deletion_time`, with its CPU and memory requests. Only the CPU-only pods are kept: GPU pods
/// cannot burst to a serverless target, and spillway's workloads carry CPU and memory only.
fn alibaba_gpu_2023(file: &str, text: &str, o: &TraceOptions) -> Result<Workload, SimError> {
    let mut events = Vec::new();
    for (line, cells) in rows(text) {
        if cells.len() < 11 {
            return Err(csv_err(file, line, format!("{} columns, expected 11", cells.len())));
        }
        let gpus: u64 = num(file, line, &cells, 3, "num_gpu")?;
        if gpus > 0 {
            continue;
        }
        let cpu: i64 = num(file, line, &cells, 1, "cpu_milli")?;
        let mem: i64 = num(file, line, &cells, 2, "memory_mib")?;
        let created: u64 = num(file, line, &cells, 8, "creation_time")?;
        let deleted: Option<u64> =
            if cells[9].is_empty() { None } else { Some(num(file, line, &cells, 9, "deletion_time")?) };
        events.push(WorkloadEvent {
            at_seconds: created,
            namespace: o.namespace.clone(),
            template: o.template.clone(),
            change: Change::Arrivals(1),
            cpu_millis: cpu.max(1),
            memory_bytes: mem.max(1) << 20,
            duration_seconds: deleted.map(|d| d.saturating_sub(created).max(1)),
        });
    }
    Ok(finish("alibaba-gpu-2023".into(), events, o))
}

/// Google 2011 job submissions per 5 minutes: `scale ×` each bin's jobs (rounding carried
/// over) arrive evenly spread over the bin, each a pod of the default size running an
/// exponentially distributed time (seeded). The first row (jobs that existed before the trace)
/// is skipped.
fn google_2011(file: &str, text: &str, o: &TraceOptions) -> Result<Workload, SimError> {
    let mut rng = SplitMix64::new(o.seed);
    let mut events = Vec::new();
    let mut carry = 0.0f64;
    for (line, cells) in rows(text) {
        let start: u64 = num(file, line, &cells, 0, "bin_start_s")?;
        let jobs: u64 = num(file, line, &cells, 1, "job_submits")?;
        if start == 0 {
            continue;
        }
        carry += jobs as f64 * o.scale;
        let n = carry.floor() as u64;
        carry -= n as f64;
        for k in 0..n {
            let duration = rng.exponential(o.mean_duration_seconds as f64).round().max(1.0) as u64;
            events.push(WorkloadEvent {
                at_seconds: start + k * 300 / n,
                namespace: o.namespace.clone(),
                template: o.template.clone(),
                change: Change::Arrivals(1),
                cpu_millis: o.cpu_millis,
                memory_bytes: o.memory_bytes,
                duration_seconds: Some(duration),
            });
        }
    }
    Ok(finish("google-2011".into(), events, o))
}

/// Days from 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2023-11-16 18:17:03.9799600` as seconds since 1970 (fraction dropped).
fn timestamp(s: &str) -> Option<i64> {
    let (date, time) = s.split_once(' ')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':');
    let (h, min) = (t.next()?.parse::<i64>().ok()?, t.next()?.parse::<i64>().ok()?);
    let sec = t.next()?.split('.').next()?.parse::<i64>().ok()?;
    Some(days_from_civil(y, m, day) * 86_400 + h * 3600 + min * 60 + sec)
}

/// Azure LLM inference requests: every 15 s, the replicas an HPA would set for the last
/// minute's request rate (`ceil(rate / requests_per_pod_second)`, at least 1), as replica
/// counts of one deployment of the default pod size.
fn azure_llm(file: &str, text: &str, o: &TraceOptions) -> Result<Workload, SimError> {
    let mut arrivals = Vec::new();
    for (line, cells) in rows(text) {
        let at = cells
            .first()
            .and_then(|c| timestamp(c))
            .ok_or_else(|| csv_err(file, line, format!("column TIMESTAMP: {:?} is not a timestamp", cells[0])))?;
        arrivals.push(at);
    }
    arrivals.sort_unstable();
    let Some(&first) = arrivals.first() else { return Ok(Workload::new("azure-llm", Vec::new())) };
    let last = arrivals.last().copied().unwrap_or(first);
    let per_pod = o.requests_per_pod_second.max(1e-9);
    let mut events = Vec::new();
    let mut previous = None;
    let (mut lo, mut hi) = (0usize, 0usize);
    let mut t = first;
    while t <= last + 60 {
        while hi < arrivals.len() && arrivals[hi] <= t {
            hi += 1;
        }
        while lo < hi && arrivals[lo] <= t - 60 {
            lo += 1;
        }
        let rate = (hi - lo) as f64 / 60.0;
        let replicas = ((rate / per_pod).ceil() as u32).max(1);
        if previous != Some(replicas) {
            events.push(WorkloadEvent {
                at_seconds: (t - first) as u64,
                namespace: o.namespace.clone(),
                template: o.template.clone(),
                change: Change::Replicas(replicas),
                cpu_millis: o.cpu_millis,
                memory_bytes: o.memory_bytes,
                duration_seconds: None,
            });
            previous = Some(replicas);
        }
        t += 15;
    }
    Ok(finish("azure-llm".into(), events, o))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2023, 11, 16), 19_677);
        assert_eq!(timestamp("2023-11-16 18:17:03.9799600"), Some(19_677 * 86_400 + 18 * 3600 + 17 * 60 + 3));
        assert_eq!(timestamp("yesterday"), None);
    }
}
