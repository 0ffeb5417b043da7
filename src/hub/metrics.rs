//! The hub's counters and their Prometheus text rendering (`GET /metrics`).
//!
//! Owns: plain atomic counters that the hub and its socket edge bump as things happen, and
//! [`render`], which writes them with the hub's gauges in the Prometheus text format
//! (version 0.0.4). Must not touch sessions or sockets (the hub passes its gauges in) nor
//! any HTTP type: the route lives in `server`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use super::EndReason;
use crate::protocol::ErrorCode;

/// Why an upgrade was refused with an HTTP status instead of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeRefusal {
    /// `Origin` not allowed: 403.
    Origin,
    /// The client's address holds its maximum of open sockets: 429.
    TooManySockets,
    /// The client's address started its maximum of sessions this minute: 429.
    TooManyNewSessions,
}

impl UpgradeRefusal {
    const ALL: [UpgradeRefusal; 3] = [
        UpgradeRefusal::Origin,
        UpgradeRefusal::TooManySockets,
        UpgradeRefusal::TooManyNewSessions,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UpgradeRefusal::Origin => "origin",
            UpgradeRefusal::TooManySockets => "too_many_sockets",
            UpgradeRefusal::TooManyNewSessions => "too_many_new_sessions",
        }
    }
}

const END_REASONS: [EndReason; 3] = [EndReason::HangUp, EndReason::IdleTimeout, EndReason::MaxAge];

/// Counters since the hub started. Relaxed atomics: each is independent, and a scrape
/// that sees one a moment before another is fine.
#[derive(Debug, Default)]
pub struct HubMetrics {
    sessions_started: AtomicU64,
    sessions_ended: [AtomicU64; END_REASONS.len()],
    relayed: AtomicU64,
    queued: AtomicU64,
    delivered: AtomicU64,
    rejected: [AtomicU64; ErrorCode::ALL.len()],
    upgrades_refused: [AtomicU64; UpgradeRefusal::ALL.len()],
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl HubMetrics {
    pub(crate) fn session_started(&self) {
        bump(&self.sessions_started);
    }

    pub(crate) fn session_ended(&self, reason: EndReason) {
        let index = END_REASONS.iter().position(|r| *r == reason);
        if let Some(counter) = index.and_then(|i| self.sessions_ended.get(i)) {
            bump(counter);
        }
    }

    /// A valid message was stored for the other participant, who was connected
    /// (`relayed`) or absent (`queued`).
    pub(crate) fn accepted(&self, recipient_connected: bool) {
        bump(if recipient_connected {
            &self.relayed
        } else {
            &self.queued
        });
    }

    /// A stored message was written to its recipient's socket.
    pub(crate) fn delivered(&self) {
        bump(&self.delivered);
    }

    /// `count` stored messages were written to their recipients' sockets (the Redis
    /// engine learns it when their acknowledgements reach Redis).
    pub(crate) fn delivered_many(&self, count: u64) {
        self.delivered.fetch_add(count, Ordering::Relaxed);
    }

    /// A message or a connection was refused with `code`.
    pub fn rejected(&self, code: ErrorCode) {
        let index = ErrorCode::ALL.iter().position(|c| *c == code);
        if let Some(counter) = index.and_then(|i| self.rejected.get(i)) {
            bump(counter);
        }
    }

    /// An upgrade was refused with an HTTP status.
    pub fn upgrade_refused(&self, why: UpgradeRefusal) {
        let index = UpgradeRefusal::ALL.iter().position(|r| *r == why);
        if let Some(counter) = index.and_then(|i| self.upgrades_refused.get(i)) {
            bump(counter);
        }
    }
}

/// The hub's gauges at the moment of a scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gauges {
    pub sessions_active: usize,
    pub sockets_connected: u64,
    pub queued_messages: usize,
    pub queued_bytes: usize,
    pub ended_ids_remembered: usize,
}

/// The Prometheus text exposition of `metrics` and `gauges`.
/// Writes one metric family: its `HELP` and `TYPE` lines, then a line per sample
/// (`labels` such as `{reason="x"}`, or empty). Also used for the accept loop's counts.
pub fn write_family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(&str, u64)]) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

pub fn render(metrics: &HubMetrics, gauges: Gauges) -> String {
    let mut out = String::with_capacity(2048);
    let mut family = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
        write_family(&mut out, name, kind, help, samples);
    };
    let to_u64 = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    family(
        "homecall_sessions_active",
        "gauge",
        "Sessions in memory that have not ended.",
        &[("", to_u64(gauges.sessions_active))],
    );
    family(
        "homecall_sockets_connected",
        "gauge",
        "Signal sockets being served, from upgrade to close.",
        &[("", gauges.sockets_connected)],
    );
    family(
        "homecall_queue_messages",
        "gauge",
        "Messages waiting for absent participants, all sessions.",
        &[("", to_u64(gauges.queued_messages))],
    );
    family(
        "homecall_queue_bytes",
        "gauge",
        "Bytes of messages waiting for absent participants, all sessions.",
        &[("", to_u64(gauges.queued_bytes))],
    );
    family(
        "homecall_ended_sessions_remembered",
        "gauge",
        "Ended session ids remembered so they are never used again.",
        &[("", to_u64(gauges.ended_ids_remembered))],
    );
    family(
        "homecall_sessions_started_total",
        "counter",
        "Sessions started.",
        &[("", read(&metrics.sessions_started))],
    );
    let ended: Vec<(String, u64)> = END_REASONS
        .iter()
        .zip(&metrics.sessions_ended)
        .map(|(reason, n)| (format!("{{reason=\"{}\"}}", reason.as_str()), read(n)))
        .collect();
    family(
        "homecall_sessions_ended_total",
        "counter",
        "Sessions ended, by reason.",
        &labelled(&ended),
    );
    family(
        "homecall_messages_relayed_total",
        "counter",
        "Valid messages accepted while the recipient was connected.",
        &[("", read(&metrics.relayed))],
    );
    family(
        "homecall_messages_queued_total",
        "counter",
        "Valid messages accepted and queued for an absent recipient.",
        &[("", read(&metrics.queued))],
    );
    family(
        "homecall_messages_delivered_total",
        "counter",
        "Messages written to their recipient's socket.",
        &[("", read(&metrics.delivered))],
    );
    let rejected: Vec<(String, u64)> = ErrorCode::ALL
        .iter()
        .zip(&metrics.rejected)
        .map(|(code, n)| (format!("{{code=\"{}\"}}", code.as_str()), read(n)))
        .collect();
    family(
        "homecall_rejected_total",
        "counter",
        "Messages and connections refused, by the error code answered.",
        &labelled(&rejected),
    );
    let refused: Vec<(String, u64)> = UpgradeRefusal::ALL
        .iter()
        .zip(&metrics.upgrades_refused)
        .map(|(why, n)| (format!("{{reason=\"{}\"}}", why.as_str()), read(n)))
        .collect();
    family(
        "homecall_upgrades_refused_total",
        "counter",
        "Signal upgrades refused with an HTTP status, by reason.",
        &labelled(&refused),
    );
    out
}

fn labelled(samples: &[(String, u64)]) -> Vec<(&str, u64)> {
    samples
        .iter()
        .map(|(labels, n)| (labels.as_str(), *n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_help_type_and_labels() {
        let metrics = HubMetrics::default();
        metrics.rejected(ErrorCode::QueueFull);
        metrics.rejected(ErrorCode::QueueFull);
        metrics.accepted(true);
        metrics.accepted(false);
        metrics.session_ended(EndReason::IdleTimeout);
        metrics.upgrade_refused(UpgradeRefusal::TooManySockets);
        let text = render(
            &metrics,
            Gauges {
                sessions_active: 3,
                queued_bytes: 77,
                ..Gauges::default()
            },
        );
        for line in [
            "# TYPE homecall_sessions_active gauge",
            "homecall_sessions_active 3",
            "homecall_queue_bytes 77",
            "# TYPE homecall_rejected_total counter",
            "homecall_rejected_total{code=\"queue_full\"} 2",
            "homecall_rejected_total{code=\"bad_message\"} 0",
            "homecall_messages_relayed_total 1",
            "homecall_messages_queued_total 1",
            "homecall_sessions_ended_total{reason=\"idle_timeout\"} 1",
            "homecall_upgrades_refused_total{reason=\"too_many_sockets\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }
}
