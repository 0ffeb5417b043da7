//! The error codes of PROTOCOL.md §5, with their wire names and Russian texts. Owns the
//! codes only; must not decide when one is sent (the hub does).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Error codes of PROTOCOL.md §5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    SessionEnded,
    SignalNotFound,
    SessionFull,
    BadRequest,
    BadMessage,
    QueueFull,
    RateLimited,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 7] = [
        ErrorCode::SessionEnded,
        ErrorCode::SignalNotFound,
        ErrorCode::SessionFull,
        ErrorCode::BadRequest,
        ErrorCode::BadMessage,
        ErrorCode::QueueFull,
        ErrorCode::RateLimited,
    ];

    /// The wire name, as in `"code": "session_ended"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::SessionEnded => "session_ended",
            ErrorCode::SignalNotFound => "signal_not_found",
            ErrorCode::SessionFull => "session_full",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::BadMessage => "bad_message",
            ErrorCode::QueueFull => "queue_full",
            ErrorCode::RateLimited => "rate_limited",
        }
    }

    /// The human-readable text the hub sends (PROTOCOL.md §5).
    pub fn message_ru(self) -> &'static str {
        match self {
            ErrorCode::SessionEnded => "Сессия завершена",
            ErrorCode::SignalNotFound => "Сигнал не найден",
            ErrorCode::SessionFull => "Сеанс уже занят",
            ErrorCode::BadRequest => "Неверная ссылка на звонок",
            ErrorCode::BadMessage => "Некорректное сообщение",
            ErrorCode::QueueFull => "Очередь сигналов переполнена",
            ErrorCode::RateLimited => "Слишком много сообщений",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use crate::protocol::*;

    #[test]
    fn every_code_has_its_wire_name_and_text() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert!(!code.message_ru().is_empty());
        }
    }
}
