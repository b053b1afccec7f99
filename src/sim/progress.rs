//! A progress bar on stderr, drawn only when stderr is a terminal (so logs and CI stay clean).

use std::io::{IsTerminal, Write};

/// A progress bar for one simulated run.
#[derive(Debug)]
pub(crate) struct Progress {
    label: String,
    enabled: bool,
    /// Last permille drawn.
    drawn: Option<u64>,
}

impl Progress {
    pub(crate) fn new(wanted: bool, label: String) -> Progress {
        Progress { label, enabled: wanted && std::io::stderr().is_terminal(), drawn: None }
    }

    /// Shows `done` of `total` (simulated seconds); redraws at most 1,000 times a run.
    pub(crate) fn update(&mut self, done: u64, total: u64) {
        if !self.enabled {
            return;
        }
        let permille = (done.min(total) * 1000).checked_div(total).unwrap_or(1000);
        if self.drawn == Some(permille) {
            return;
        }
        self.drawn = Some(permille);
        let width = 30;
        let filled = (permille * width / 1000) as usize;
        let bar = format!("{}{}", "#".repeat(filled), "-".repeat(width as usize - filled));
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{:<24} [{bar}] {:>5.1}%", self.label, permille as f64 / 10.0);
        let _ = err.flush();
    }

    /// Ends the bar's line.
    pub(crate) fn finish(&mut self, total: u64) {
        if self.enabled {
            self.update(total, total);
            let _ = writeln!(std::io::stderr());
        }
    }
}
