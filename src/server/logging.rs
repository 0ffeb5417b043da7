//! The server's logs: which events pass, and how a line reads.
//!
//! - [`filter`]: the operator's `--log`, with the WebSocket library's own logs capped. At
//!   debug and trace levels tungstenite prints whole frames, and frames carry SDP and ICE
//!   candidates, which carry users' addresses: they must reach no log at any level.
//! - [`Line`]: one line an event, `time LEVEL target: message key=value…`. The hub writes
//!   a line for every message it relays (PROTOCOL.md §8), so the line is made for speed:
//!   no colours, no spans' fields copied onto it, plain values unquoted.
//! - [`writer`]: where lines go: a buffer that a thread of its own writes out.
//!
//! Must not install a subscriber (the binary's `main` does).

use std::fmt::{self, Write as _};
use std::time::SystemTime;

pub mod writer;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

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

/// The server's line format:
/// `2026-12-03T10:49:53.987576Z  INFO homecall::hub::socket: message delivered session=… peer=… kind=offer size=2717 outcome=delivered`.
///
/// The time is UTC to the microsecond. A string made only of letters, digits and `_-.:/`
/// is written as it is; any other is quoted and escaped as Rust's `Debug` does. In the
/// message and in `Display`ed values a line break is written as `\n`, so no value can
/// start a line of its own. The fields of any span the event is in follow
/// the target in braces, as `tracing-subscriber`'s default format writes them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Line;

impl<S, N> FormatEvent<S, N> for Line
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        write!(
            writer,
            "{}",
            humantime::format_rfc3339_micros(SystemTime::now())
        )?;
        writer.write_str(padded(*meta.level()))?;
        writer.write_str(meta.target())?;
        writer.write_char(':')?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    write!(writer, " {}{{{}}}", span.name(), fields)?;
                }
            }
        }
        let mut message = MessageOnly {
            writer: &mut writer,
            result: Ok(()),
        };
        event.record(&mut message);
        message.result?;
        let mut rest = FieldsButMessage {
            writer: &mut writer,
            result: Ok(()),
        };
        event.record(&mut rest);
        rest.result?;
        writeln!(writer)
    }
}

/// A level as the line writes it: a space, then the name right-aligned in five, then a
/// space.
fn padded(level: Level) -> &'static str {
    match level {
        Level::ERROR => " ERROR ",
        Level::WARN => "  WARN ",
        Level::INFO => "  INFO ",
        Level::DEBUG => " DEBUG ",
        Level::TRACE => " TRACE ",
    }
}

/// Writes an event's `message` field, after a space.
struct MessageOnly<'w, 'a> {
    writer: &'w mut Writer<'a>,
    result: fmt::Result,
}

impl Visit for MessageOnly<'_, '_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" && self.result.is_ok() {
            self.result = write!(OneLine(&mut *self.writer), " {value:?}");
        }
    }
}

/// Writes every field but `message` as ` name=value`. Numbers and booleans come through
/// `record_debug` (the `Visit` default), whose `Debug` text is their plain one.
struct FieldsButMessage<'w, 'a> {
    writer: &'w mut Writer<'a>,
    result: fmt::Result,
}

impl FieldsButMessage<'_, '_> {
    fn skip(&self, field: &Field) -> bool {
        self.result.is_err() || field.name() == "message"
    }

    /// ` name=`, before the value.
    fn name(&mut self, field: &Field) -> fmt::Result {
        self.writer.write_char(' ')?;
        self.writer.write_str(field.name())?;
        self.writer.write_char('=')
    }
}

impl Visit for FieldsButMessage<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.skip(field) {
            return;
        }
        self.result = if is_plain(value) {
            self.name(field).and_then(|()| self.writer.write_str(value))
        } else {
            self.name(field)
                .and_then(|()| write!(self.writer, "{value:?}"))
        };
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !self.skip(field) {
            self.result = self
                .name(field)
                .and_then(|()| write!(OneLine(&mut *self.writer), "{value:?}"));
        }
    }
}

/// Writes through to a line, with line breaks escaped.
struct OneLine<'w, 'a>(&'w mut Writer<'a>);

impl fmt::Write for OneLine<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut rest = text;
        while let Some(at) = rest.find(['\n', '\r']) {
            self.0.write_str(&rest[..at])?;
            self.0.write_str(if rest.as_bytes()[at] == b'\n' {
                "\\n"
            } else {
                "\\r"
            })?;
            rest = &rest[at + 1..];
        }
        self.0.write_str(rest)
    }
}

/// Whether `value` can be written unquoted: not empty, and only letters, digits and
/// `_-.:/` (ids, kinds, outcomes and codes all are).
fn is_plain(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b'/'))
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

    /// The lines `Line` writes for the events `emit` sends.
    fn lines_of(emit: impl FnOnce()) -> String {
        use std::sync::{Arc, Mutex};
        let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = Arc::clone(&buffer);
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .event_format(Line)
            .with_writer(move || Sink(Arc::clone(&sink)))
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = buffer.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_line_has_time_level_target_message_then_fields() {
        let text = lines_of(|| {
            tracing::info!(
                session = "0a000000-0000-4a0a-8a0a-0a0a0a0a0a0a",
                kind = "offer",
                size = 2717_u64,
                waiting = false,
                "message delivered"
            );
        });
        let (time, rest) = text.split_once(' ').unwrap();
        assert!(
            time.parse::<humantime::Timestamp>().is_ok() && time.ends_with('Z'),
            "{time}"
        );
        assert_eq!(
            rest,
            " INFO homecall::server::logging::tests: message delivered \
             session=0a000000-0000-4a0a-8a0a-0a0a0a0a0a0a kind=offer size=2717 waiting=false\n"
        );
    }

    #[test]
    fn no_value_can_start_a_line_of_its_own() {
        let text = lines_of(|| {
            let error = "broken\n2026-01-01T00:00:00Z  INFO forged";
            tracing::warn!(why = "two words", %error, "line\rbreak {}", "\nhere");
        });
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains(r#"why="two words""#), "{text}");
        assert!(
            text.contains(r"error=broken\n2026-01-01T00:00:00Z"),
            "{text}"
        );
        assert!(text.contains(r"line\rbreak \nhere"), "{text}");
    }

    #[test]
    fn a_span_s_fields_follow_the_target() {
        let text = lines_of(|| {
            let span = tracing::info_span!("signal", session = "s1");
            span.in_scope(|| tracing::info!("socket joined"));
        });
        assert!(
            text.contains("tests: signal{session=\"s1\"} socket joined\n"),
            "{text}"
        );
    }

    #[test]
    fn a_bad_filter_is_an_error() {
        assert!(filter("homecall=loud").is_err());
        assert!(filter("info").is_ok());
    }
}
