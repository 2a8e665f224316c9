//! Events for other services: the endpoints (`EVENT_ENDPOINTS`), what each wants, and the
//! deliveries' bounds.

use std::collections::{BTreeMap, BTreeSet};

use clap::Args;
use domain::{EventKind, Subscriptions};

/// The events settings.
#[derive(Clone, Args)]
pub struct EventsConfig {
    /// Where events go: `;`-separated entries `NAME=URL EVENTS SECRET`, EVENTS a
    /// comma-separated list of `image.ready`, `image.deleted`, `report.created`,
    /// `report.moderated`, `account.withdrawn` (or `*` for all), SECRET a Standard
    /// Webhooks `whsec_…` key. Example: `chat=https://chat.internal/hooks
    /// image.deleted,account.withdrawn whsec_…`.
    #[arg(long, env = "EVENT_ENDPOINTS", hide_env_values = true, global = true)]
    pub event_endpoints: Option<String>,

    /// Seconds one delivery may take before it counts as failed.
    #[arg(long, env = "EVENT_TIMEOUT_SECS", default_value_t = 5, global = true)]
    pub event_timeout_secs: u64,

    /// Attempts before a delivery is marked failed (exponential backoff in between: 2, 4,
    /// 8 … seconds, at most an hour).
    #[arg(long, env = "EVENT_MAX_ATTEMPTS", default_value_t = 8, global = true)]
    pub event_max_attempts: u32,
}

impl std::fmt::Debug for EventsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The endpoints hold their secrets: only their names are shown.
        let names: Vec<String> = self
            .endpoints()
            .map(|e| e.into_iter().map(|e| e.name).collect())
            .unwrap_or_default();
        f.debug_struct("EventsConfig")
            .field("endpoints", &names)
            .field("event_timeout_secs", &self.event_timeout_secs)
            .field("event_max_attempts", &self.event_max_attempts)
            .finish()
    }
}

/// One configured endpoint (its secret never printed).
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    pub name: String,
    pub endpoint: notify::events::Endpoint,
    pub events: BTreeSet<EventKind>,
}

impl EventsConfig {
    /// The configured endpoints.
    ///
    /// # Errors
    /// One message per malformed entry (never quoting its secret).
    pub fn endpoints(&self) -> Result<Vec<EndpointConfig>, Vec<String>> {
        let mut out = Vec::new();
        let mut problems = Vec::new();
        let entries = self.event_endpoints.as_deref().unwrap_or_default();
        for (i, entry) in entries
            .split(';')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            match parse_entry(entry) {
                Ok(e) if out.iter().any(|o: &EndpointConfig| o.name == e.name) => {
                    problems.push(format!(
                        "EVENT_ENDPOINTS: the name {} is used twice",
                        e.name
                    ));
                }
                Ok(e) => out.push(e),
                Err(why) => problems.push(format!("EVENT_ENDPOINTS entry {}: {why}", i + 1)),
            }
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(problems)
        }
    }

    /// Which endpoint wants which events (none when the setting is malformed: start-up
    /// refuses it first).
    pub fn subscriptions(&self) -> Subscriptions {
        Subscriptions::new(
            self.endpoints()
                .unwrap_or_default()
                .into_iter()
                .map(|e| (e.name, e.events))
                .collect(),
        )
    }

    /// The publisher's endpoints, by name.
    pub fn by_name(&self) -> BTreeMap<String, notify::events::Endpoint> {
        self.endpoints()
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.name, e.endpoint))
            .collect()
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.event_timeout_secs.max(1))
    }
}

fn parse_entry(entry: &str) -> Result<EndpointConfig, String> {
    let (name, rest) = entry
        .split_once('=')
        .ok_or("must be NAME=URL EVENTS SECRET")?;
    let name = name.trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("a name is letters, digits, - and _".into());
    }
    let parts: Vec<&str> = rest.split_whitespace().collect();
    let [url, events, secret] = parts[..] else {
        return Err(format!("{name}: must be NAME=URL EVENTS SECRET"));
    };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(format!("{name}: the URL must be http(s)"));
    }
    let events: BTreeSet<EventKind> = if events == "*" {
        EventKind::ALL.into_iter().collect()
    } else {
        events
            .split(',')
            .map(|e| {
                e.parse::<EventKind>()
                    .map_err(|e| format!("{name}: {}", e.reason))
            })
            .collect::<Result<_, _>>()?
    };
    let endpoint =
        notify::events::Endpoint::new(url, secret).map_err(|why| format!("{name}: {why}"))?;
    Ok(EndpointConfig {
        name: name.to_owned(),
        endpoint,
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(v: &str) -> EventsConfig {
        EventsConfig {
            event_endpoints: Some(v.into()),
            event_timeout_secs: 5,
            event_max_attempts: 8,
        }
    }

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn endpoints_parse_with_their_events_and_never_print_their_secrets() {
        let c = with(&format!(
            "chat=https://chat.internal/hooks image.deleted,account.withdrawn {SECRET}; \
             office=http://office:8080/e * {SECRET}"
        ));
        let e = c.endpoints().expect("valid");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].name, "chat");
        assert_eq!(e[0].events.len(), 2);
        assert_eq!(e[1].events.len(), EventKind::ALL.len());
        assert!(!format!("{c:?}").contains("MfKQ"), "{c:?}");
    }

    #[test]
    fn each_bad_entry_is_named_without_its_secret() {
        let c = with(&format!(
            "a=https://x image.created {SECRET}; b=ftp://x * {SECRET}; c=https://x *; \
             d=https://x * whsec_short; a=https://y * {SECRET}; a=https://z * {SECRET}"
        ));
        let problems = c.endpoints().expect_err("refused");
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems.iter().all(|p| !p.contains("MfKQ")));
        assert!(problems.iter().any(|p| p.contains("used twice")));
    }
}
