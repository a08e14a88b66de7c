//! Processor health: a circuit breaker per processor and mode, fed by
//! errors and timeouts (never by declines: a processor that declines is
//! working). Pure: the edge keeps one `Breaker` in a Durable Object per
//! processor and mode (`edge::health_do`) and asks it through a per-isolate
//! cache.
//!
//! - **Closed**: every call goes. It opens when, over the last
//!   `WINDOW_MS`, there were at least `MIN_CALLS` calls and at least half of
//!   them failed (a few failures among few calls are noise: each failed call
//!   moved on to the next processor anyway).
//! - **Open**: the processor is left out of attempt plans (the attempt reads
//!   "skipped", code `circuit_open`) until `retry_at_ms`.
//! - **Half open** (open, past `retry_at_ms`): one call every `PROBE_EVERY_MS`
//!   goes through as a probe. A probe that works closes the circuit; one that
//!   fails opens it again for twice as long, up to `MAX_OPEN_MS`.

use serde::{Deserialize, Serialize};

pub const WINDOW_MS: u64 = 30_000;
pub const MIN_CALLS: u32 = 20;
pub const OPEN_MS: u64 = 30_000;
pub const MAX_OPEN_MS: u64 = 300_000;
pub const PROBE_EVERY_MS: u64 = 5_000;
/// Buckets of the rolling window.
const BUCKET_MS: u64 = 1_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breaker {
    /// `(bucket start, calls, failures)`, oldest first, within the window.
    buckets: Vec<(u64, u32, u32)>,
    /// Open since, and until when no probe is let through.
    opened_at_ms: Option<u64>,
    retry_at_ms: u64,
    /// How long the last opening lasts (doubles on a failed probe).
    open_for_ms: u64,
    last_probe_ms: Option<u64>,
}

/// What the API shows of a circuit, and what an isolate caches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircuitView {
    pub state: CircuitState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opened_at: Option<u64>,
    /// When probes may start (open) or started (half open), ms since epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<u64>,
    /// Calls and failures over the last `WINDOW_MS`.
    pub calls: u32,
    pub failures: u32,
}

/// Calls a processor's isolate reports together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub calls: u32,
    pub failures: u32,
    /// The result of a probe, if this report carries one (`true`: failed).
    #[serde(default)]
    pub probe_failed: Option<bool>,
}

impl Breaker {
    fn trim(&mut self, now: u64) {
        let from = now.saturating_sub(WINDOW_MS);
        self.buckets.retain(|(t, _, _)| *t + BUCKET_MS > from);
    }

    fn totals(&self) -> (u32, u32) {
        self.buckets
            .iter()
            .fold((0, 0), |(c, f), (_, bc, bf)| (c + bc, f + bf))
    }

    pub fn state(&self, now: u64) -> CircuitState {
        match self.opened_at_ms {
            None => CircuitState::Closed,
            Some(_) if now < self.retry_at_ms => CircuitState::Open,
            Some(_) => CircuitState::HalfOpen,
        }
    }

    pub fn view(&mut self, now: u64) -> CircuitView {
        self.trim(now);
        let (calls, failures) = self.totals();
        CircuitView {
            state: self.state(now),
            opened_at: self.opened_at_ms,
            retry_at: self.opened_at_ms.map(|_| self.retry_at_ms),
            calls,
            failures,
        }
    }

    fn open(&mut self, now: u64, for_ms: u64) {
        self.opened_at_ms = Some(self.opened_at_ms.unwrap_or(now));
        self.open_for_ms = for_ms.clamp(OPEN_MS, MAX_OPEN_MS);
        self.retry_at_ms = now + self.open_for_ms;
        self.last_probe_ms = None;
    }

    /// Takes in what calls told.
    pub fn record(&mut self, now: u64, report: Report) {
        self.trim(now);
        let bucket = now - now % BUCKET_MS;
        match self.buckets.last_mut() {
            Some((t, c, f)) if *t == bucket => {
                *c += report.calls;
                *f += report.failures;
            }
            _ => self.buckets.push((bucket, report.calls, report.failures)),
        }
        match (self.opened_at_ms, report.probe_failed) {
            (Some(_), Some(false)) => {
                // The probe worked: closed, with a clean window.
                *self = Breaker::default();
            }
            (Some(_), Some(true)) => self.open(now, self.open_for_ms.saturating_mul(2)),
            (Some(_), None) => {}
            (None, _) => {
                let (calls, failures) = self.totals();
                if calls >= MIN_CALLS && failures.saturating_mul(2) >= calls {
                    self.open(now, OPEN_MS);
                }
            }
        }
    }

    /// Whether a call may probe the circuit now: half open, and no probe in
    /// the last `PROBE_EVERY_MS`. Granting it counts as that probe.
    pub fn grant_probe(&mut self, now: u64) -> bool {
        if self.state(now) != CircuitState::HalfOpen {
            return false;
        }
        if self
            .last_probe_ms
            .is_some_and(|t| now.saturating_sub(t) < PROBE_EVERY_MS)
        {
            return false;
        }
        self.last_probe_ms = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(calls: u32, failures: u32) -> Report {
        Report {
            calls,
            failures,
            probe_failed: None,
        }
    }

    #[test]
    fn opens_on_failures_not_on_a_few() {
        let mut b = Breaker::default();
        b.record(1_000, report(19, 19));
        assert_eq!(
            b.state(1_000),
            CircuitState::Closed,
            "too few calls to judge"
        );
        b.record(2_000, report(100, 1));
        assert_eq!(
            b.state(2_000),
            CircuitState::Closed,
            "20 failures of 119 calls"
        );
        let mut b = Breaker::default();
        b.record(1_000, report(20, 10));
        assert_eq!(b.state(1_000), CircuitState::Open, "half of 20 calls");
        let v = b.view(1_000);
        assert_eq!((v.calls, v.failures), (20, 10));
        assert_eq!(v.retry_at, Some(1_000 + OPEN_MS));
    }

    #[test]
    fn failures_age_out_of_the_window() {
        let mut b = Breaker::default();
        b.record(1_000, report(19, 19));
        b.record(1_000 + WINDOW_MS + BUCKET_MS, report(1, 1));
        assert_eq!(b.state(1_000 + WINDOW_MS + BUCKET_MS), CircuitState::Closed);
        assert_eq!(b.view(1_000 + WINDOW_MS + BUCKET_MS).failures, 1);
    }

    #[test]
    fn probes_trickle_and_close_or_reopen() {
        let mut b = Breaker::default();
        b.record(0, report(20, 20));
        assert!(!b.grant_probe(OPEN_MS - 1), "no probe while open");
        let t = OPEN_MS;
        assert_eq!(b.state(t), CircuitState::HalfOpen);
        assert!(b.grant_probe(t));
        assert!(!b.grant_probe(t + 1), "one probe at a time");
        assert!(
            b.grant_probe(t + PROBE_EVERY_MS),
            "a lost probe is replaced"
        );
        // A failed probe: open again, twice as long.
        b.record(
            t + PROBE_EVERY_MS + 10,
            Report {
                calls: 1,
                failures: 1,
                probe_failed: Some(true),
            },
        );
        let t2 = t + PROBE_EVERY_MS + 10;
        assert_eq!(b.state(t2), CircuitState::Open);
        assert_eq!(b.view(t2).retry_at, Some(t2 + 2 * OPEN_MS));
        assert_eq!(b.view(t2).opened_at, Some(0), "still the first opening");
        // A probe that works closes it, with a clean window.
        let t3 = t2 + 2 * OPEN_MS;
        assert!(b.grant_probe(t3));
        b.record(
            t3,
            Report {
                calls: 1,
                failures: 0,
                probe_failed: Some(false),
            },
        );
        assert_eq!(b.state(t3), CircuitState::Closed);
        assert_eq!(b.view(t3).failures, 0);
        assert!(!b.grant_probe(t3), "closed: no probes needed");
    }

    #[test]
    fn openings_are_capped() {
        let mut b = Breaker::default();
        b.record(0, report(20, 20));
        let mut t = 0;
        for _ in 0..10 {
            t = b.view(t).retry_at.unwrap_or(t);
            assert!(b.grant_probe(t));
            b.record(
                t,
                Report {
                    calls: 1,
                    failures: 1,
                    probe_failed: Some(true),
                },
            );
        }
        assert_eq!(b.view(t).retry_at, Some(t + MAX_OPEN_MS));
    }

    #[test]
    fn reports_from_before_the_opening_do_not_close_it() {
        let mut b = Breaker::default();
        b.record(0, report(20, 20));
        b.record(10, report(50, 0));
        assert_eq!(b.state(10), CircuitState::Open);
    }
}
