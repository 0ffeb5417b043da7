//! The connection doctor: what each STUN/TURN server the page was given answered when
//! probed, and what that means in plain words, for the person and for the server's
//! operator. Owns the kinds of servers, the findings and the advice; the probing itself is
//! Rtc's (`rtc::probe`), run by the conductor with the call's own TURN credentials. Must
//! not touch the browser or the network.

use crate::i18n::Texts;

/// How a server is reached: its scheme and transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Stun,
    TurnUdp,
    TurnTcp,
    /// `turns:`, TURN over TLS: what passes networks that let only the web out (443).
    TurnTls,
}

impl Reach {
    /// How `url` (`stun:host:port`, `turn:host:port?transport=tcp`, `turns:…`) is reached;
    /// `None` for anything else.
    pub fn of_url(url: &str) -> Option<Reach> {
        let (scheme, rest) = url.split_once(':')?;
        let tcp = rest.contains("transport=tcp");
        match scheme {
            "stun" | "stuns" => Some(Reach::Stun),
            "turn" if tcp => Some(Reach::TurnTcp),
            "turn" => Some(Reach::TurnUdp),
            "turns" => Some(Reach::TurnTls),
            _ => None,
        }
    }

    pub fn is_turn(self) -> bool {
        self != Reach::Stun
    }
}

/// What a probe of one server found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It answered: a STUN server told the page its address, a TURN server gave a relay.
    Works,
    /// Nothing came back in time (down, or blocked on the way).
    NoAnswer,
    /// A TURN server answered and refused the credentials.
    Refused,
}

/// One server URL and what its probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub url: String,
    pub reach: Reach,
    pub outcome: Outcome,
}

/// Where an examination is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Examination {
    Running,
    Done(Vec<Finding>),
}

/// What the operator should do, most pressing first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advice {
    /// No STUN or TURN at all: only calls on simple networks connect.
    NoServers,
    /// A TURN server refuses the page's credentials: the shared secret differs.
    TurnRefused,
    /// A server does not answer: down, or its ports are closed.
    Unreachable,
    /// No TURN server: calls between strict NATs cannot connect.
    NoTurn,
    /// No TURN over TLS: networks that let only the web out cannot connect.
    NoTurnTls,
    /// Every server answered and TURN runs over TLS too.
    AllGood,
}

/// What the findings call for, most pressing first; `AllGood` alone when nothing is
/// missing.
pub fn advise(findings: &[Finding]) -> Vec<Advice> {
    if findings.is_empty() {
        return vec![Advice::NoServers];
    }
    let (mut refused, mut silent, mut turn, mut tls) = (false, false, false, false);
    for f in findings {
        refused |= f.outcome == Outcome::Refused;
        silent |= f.outcome == Outcome::NoAnswer;
        turn |= f.reach.is_turn();
        tls |= f.reach == Reach::TurnTls;
    }
    let mut advice = Vec::new();
    if refused {
        advice.push(Advice::TurnRefused);
    }
    if silent {
        advice.push(Advice::Unreachable);
    }
    if !turn {
        advice.push(Advice::NoTurn);
    } else if !tls {
        advice.push(Advice::NoTurnTls);
    }
    if advice.is_empty() {
        advice.push(Advice::AllGood);
    }
    advice
}

/// The server's address as a person reads it: `host:port`, without scheme or query.
fn address(url: &str) -> &str {
    let rest = url.split_once(':').map_or(url, |(_, rest)| rest);
    rest.split('?').next().unwrap_or(rest)
}

/// The report in words: one line per server (✓ or ✗, its kind, its address, what it
/// did), then what to do.
pub fn report(t: &Texts, findings: &[Finding]) -> String {
    let mut report = String::new();
    for f in findings {
        let kind = match f.reach {
            Reach::Stun => "STUN",
            Reach::TurnUdp => "TURN (UDP)",
            Reach::TurnTcp => "TURN (TCP)",
            Reach::TurnTls => "TURN (TLS)",
        };
        let (mark, said) = match f.outcome {
            Outcome::Works => ("✓ ", t.doctor_works),
            Outcome::NoAnswer => ("✗ ", t.doctor_no_answer),
            Outcome::Refused => ("✗ ", t.doctor_refused),
        };
        for part in [mark, kind, " ", address(&f.url), " — ", said, "\n"] {
            report.push_str(part);
        }
    }
    let advice: Vec<&str> = advise(findings)
        .into_iter()
        .map(|advice| match advice {
            Advice::NoServers => t.doctor_no_servers,
            Advice::TurnRefused => t.doctor_turn_refused,
            Advice::Unreachable => t.doctor_unreachable,
            Advice::NoTurn => t.doctor_no_turn,
            Advice::NoTurnTls => t.doctor_no_turn_tls,
            Advice::AllGood => t.doctor_all_good,
        })
        .collect();
    report.push_str(&advice.join("\n"));
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{EN, RU};

    fn found(url: &str, outcome: Outcome) -> Finding {
        Finding {
            url: url.into(),
            reach: Reach::of_url(url).unwrap(),
            outcome,
        }
    }

    #[test]
    fn each_url_is_read_as_its_kind() {
        assert_eq!(Reach::of_url("stun:stun.example:3478"), Some(Reach::Stun));
        assert_eq!(Reach::of_url("turn:t.example:3478"), Some(Reach::TurnUdp));
        assert_eq!(
            Reach::of_url("turn:t.example:3478?transport=udp"),
            Some(Reach::TurnUdp)
        );
        assert_eq!(
            Reach::of_url("turn:t.example:443?transport=tcp"),
            Some(Reach::TurnTcp)
        );
        assert_eq!(
            Reach::of_url("turns:t.example:443?transport=tcp"),
            Some(Reach::TurnTls)
        );
        assert_eq!(Reach::of_url("https://t.example"), None);
        assert_eq!(Reach::of_url("nonsense"), None);
    }

    #[test]
    fn the_advice_names_what_is_missing_most_pressing_first() {
        assert_eq!(advise(&[]), [Advice::NoServers]);
        assert_eq!(
            advise(&[found("stun:s:3478", Outcome::Works)]),
            [Advice::NoTurn]
        );
        assert_eq!(
            advise(&[
                found("stun:s:3478", Outcome::Works),
                found("turn:t:3478", Outcome::Works)
            ]),
            [Advice::NoTurnTls]
        );
        assert_eq!(
            advise(&[
                found("turn:t:3478", Outcome::Refused),
                found("turns:t:443?transport=tcp", Outcome::NoAnswer),
            ]),
            [Advice::TurnRefused, Advice::Unreachable]
        );
        assert_eq!(
            advise(&[
                found("stun:s:3478", Outcome::Works),
                found("turns:t:443", Outcome::Works)
            ]),
            [Advice::AllGood]
        );
    }

    #[test]
    fn the_report_says_each_server_and_what_to_do_in_each_language() {
        let findings = [
            found("stun:10.0.0.1:3478", Outcome::Works),
            found("turn:10.0.0.1:3478?transport=udp", Outcome::NoAnswer),
        ];
        let ru = report(&RU, &findings);
        assert!(
            ru.starts_with(
                "✓ STUN 10.0.0.1:3478 — отвечает\n✗ TURN (UDP) 10.0.0.1:3478 — не отвечает\n"
            ),
            "{ru}"
        );
        assert!(ru.contains(RU.doctor_unreachable) && ru.contains(RU.doctor_no_turn_tls));
        let en = report(&EN, &findings);
        assert!(
            en.contains("✗ TURN (UDP) 10.0.0.1:3478 — no answer"),
            "{en}"
        );
    }
}
