//! The server's log filter: the operator's `--log`, with the WebSocket library's own logs
//! capped. At debug and trace levels tungstenite prints whole frames, and frames carry SDP
//! and ICE candidates, which carry users' addresses: they must reach no log at any level.
//!
//! Owns the filter only; must not install a subscriber (the binary's `main` does).

use tracing_subscriber::EnvFilter;

/// Targets whose logs may contain frame contents, and the level they are capped at.
const CAPPED: [&str; 2] = ["tungstenite", "tokio_tungstenite"];
const CAP: &str = "info";

/// `--log` as an [`EnvFilter`], with [`CAPPED`] targets at [`CAP`] whatever it says.
pub fn filter(directives: &str) -> Result<EnvFilter, tracing_subscriber::filter::ParseError> {
    let kept: Vec<&str> = directives
        .split(',')
        .map(str::trim)
        .filter(|directive| !directive.is_empty() && !names_capped_target(directive))
        .collect();
    let caps = CAPPED.iter().map(|target| format!("{target}={CAP}"));
    let all: Vec<String> = kept.iter().map(|d| (*d).to_owned()).chain(caps).collect();
    EnvFilter::try_new(all.join(","))
}

/// Whether a directive (`target[span]=level`) names one of the capped targets.
fn names_capped_target(directive: &str) -> bool {
    let target = directive
        .split(['=', '['])
        .next()
        .unwrap_or_default()
        .trim();
    CAPPED
        .iter()
        .any(|capped| target == *capped || target.starts_with(&format!("{capped}::")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_websocket_library_is_capped_whatever_the_operator_asks() {
        let text = filter("trace,tungstenite::protocol=trace,homecall=debug")
            .unwrap()
            .to_string();
        assert!(!text.contains("tungstenite::protocol=trace"), "{text}");
        assert!(text.contains("tungstenite=info"), "{text}");
        assert!(text.contains("tokio_tungstenite=info"), "{text}");
        assert!(text.contains("homecall=debug"), "{text}");
        assert!(text.contains("trace"), "{text}");
    }

    #[test]
    fn a_bad_filter_is_an_error() {
        assert!(filter("homecall=loud").is_err());
        assert!(filter("info").is_ok());
    }
}
