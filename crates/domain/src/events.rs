//! Events for the services around this one: what happened (an image ready or deleted, a
//! report filed or moderated, an account withdrawn), with ids and keys only. Each event is
//! written to the outbox in the transaction of the change, once per endpoint that wants
//! it ([`Subscriptions::jobs`]), and delivered by [`crate::services::events::EventDelivery`]
//! through an [`EventPublisher`] (Standard Webhooks in production).

use crate::error::ParseError;
use crate::outbox::NewJob;
use crate::outbox::topics::EVENT_DELIVERY;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use time::OffsetDateTime;

/// The kinds of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    ImageReady,
    ImageDeleted,
    ReportCreated,
    ReportModerated,
    AccountWithdrawn,
}

impl EventKind {
    pub const ALL: [Self; 5] = [
        Self::ImageReady,
        Self::ImageDeleted,
        Self::ReportCreated,
        Self::ReportModerated,
        Self::AccountWithdrawn,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ImageReady => "image.ready",
            Self::ImageDeleted => "image.deleted",
            Self::ReportCreated => "report.created",
            Self::ReportModerated => "report.moderated",
            Self::AccountWithdrawn => "account.withdrawn",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                ParseError::new(
                    "event",
                    format!("must be one of {}", Self::ALL.map(Self::as_str).join(", ")),
                )
            })
    }
}

/// Which endpoint (by its configured name) wants which kinds of event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscriptions(Vec<(String, BTreeSet<EventKind>)>);

impl Subscriptions {
    pub fn new(endpoints: Vec<(String, BTreeSet<EventKind>)>) -> Self {
        Self(endpoints)
    }

    /// The outbox jobs of one event: one per endpoint that wants `kind`, each carrying
    /// `{endpoint, type, timestamp, data}`. None when no endpoint wants it.
    pub fn jobs(
        &self,
        kind: EventKind,
        at: OffsetDateTime,
        data: serde_json::Value,
    ) -> Vec<NewJob> {
        use time::format_description::well_known::Rfc3339;
        let timestamp = at.format(&Rfc3339).unwrap_or_default();
        self.0
            .iter()
            .filter(|(_, kinds)| kinds.contains(&kind))
            .map(|(endpoint, _)| NewJob {
                topic: EVENT_DELIVERY,
                payload: serde_json::json!({
                    "endpoint": endpoint,
                    "type": kind.as_str(),
                    "timestamp": timestamp,
                    "data": data,
                }),
                about: None,
            })
            .collect()
    }
}

/// One delivery of one event to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMessage {
    /// The `webhook-id`: the same on every attempt (`msg_<job id>`), so receivers drop
    /// repeats.
    pub id: String,
    /// The endpoint's configured name.
    pub endpoint: String,
    /// `{type, timestamp, data}`: the body as sent.
    pub body: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn each_endpoint_that_wants_an_event_gets_a_job_of_its_own() {
        let subs = Subscriptions::new(vec![
            (
                "chat".into(),
                [EventKind::ImageDeleted, EventKind::AccountWithdrawn].into(),
            ),
            ("office".into(), [EventKind::ReportCreated].into()),
            ("all".into(), EventKind::ALL.into()),
        ]);
        let at = datetime!(2026-12-02 10:00 UTC);
        let jobs = subs.jobs(EventKind::ImageDeleted, at, serde_json::json!({"key": "k"}));
        let to: Vec<_> = jobs.iter().map(|j| j.payload["endpoint"].clone()).collect();
        assert_eq!(to, vec!["chat", "all"]);
        assert_eq!(jobs[0].topic, EVENT_DELIVERY);
        assert_eq!(jobs[0].payload["type"], "image.deleted");
        assert_eq!(jobs[0].payload["timestamp"], "2026-12-02T10:00:00Z");
        assert_eq!(jobs[0].payload["data"]["key"], "k");
        assert!(
            Subscriptions::default()
                .jobs(EventKind::ImageReady, at, serde_json::json!({}))
                .is_empty()
        );
    }

    #[test]
    fn kinds_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(k.as_str().parse::<EventKind>().unwrap(), k);
        }
        assert!("image.created".parse::<EventKind>().is_err());
    }
}
