//! Structured logs through `tracing`: text for people in dev, JSON for machines in
//! production. `RUST_LOG` overrides the default filter.
//!
//! Field values often carry client input (a key, a file name, a reason). JSON escapes
//! them by construction; in text, every control character of a value is written escaped
//! (`\n`, `\u{1b}`), so no client can end a line and forge the next one, or colour a
//! terminal.

use std::fmt::Write as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt as _;
use tracing_subscriber::fmt::format::{FormatFields, Writer};

use crate::config::LogFormat;

const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn,actix_server=warn";

/// Installs the global subscriber. Call once, from `main`.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        // Colours for a terminal only: files and log collectors get plain text.
        LogFormat::Text => builder
            .compact()
            .fmt_fields(text_fields())
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .try_init(),
    };
}

/// How text logs write fields: `name=value`, the message bare, control characters of
/// every value escaped.
pub fn text_fields() -> impl for<'w> FormatFields<'w> + Send + Sync + 'static {
    tracing_subscriber::fmt::format::debug_fn(|w: &mut Writer<'_>, field, value| {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        if field.name() == "message" {
            write!(w, "{}", Escaped(&text))
        } else {
            write!(w, "{field}={}", Escaped(&text))
        }
    })
    .delimited(" ")
}

/// Text with its control characters escaped.
struct Escaped<'a>(&'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_debug())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn client_input_cannot_forge_a_text_log_line() {
        let logs = Captured::default();
        let writer = logs.clone();
        let _guard = tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .compact()
                .fmt_fields(super::text_fields())
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish(),
        );
        let forged = "x.png\n2026-12-01T00:00:00Z  INFO served route=/admin status=200\x1b[2J";
        tracing::info!(key = %forged, reason = forged, "upload rejected: {forged}");
        let text = String::from_utf8(logs.0.lock().expect("log buffer").clone()).expect("utf-8");
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains('\x1b'), "{text}");
        assert!(text.contains(r"key=x.png\n2026-12-01"), "{text}");
        assert!(text.contains(r"[2J"), "{text}");
        assert!(text.contains("upload rejected: x.png\\n"), "{text}");
    }
}
