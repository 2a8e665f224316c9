//! Administrative requests: a suspension, a role change, the audit log's filters, and a
//! moderation decision, checked and turned into domain values.

use domain::{
    AuditAction, AuditActor, AuditFilter, AuditTarget, Decision, Page, ParseError, Role,
    SuspensionReason,
};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

use super::Refusals;
use crate::error::{ApiError, Domain};

fn instant(field: &'static str, s: &str) -> Result<OffsetDateTime, ParseError> {
    OffsetDateTime::parse(s.trim(), &Rfc3339).map_err(|_| {
        ParseError::new(
            field,
            "must be an RFC 3339 instant like 2026-12-31T00:00:00Z",
        )
    })
}

/// `POST /accounts/{id}/suspension`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendRequest {
    /// When it ends by itself (RFC 3339, in the future); absent: until lifted.
    #[schema(example = "2026-12-31T00:00:00Z")]
    pub until: Option<String>,
    /// Why, 1 to 500 characters: shown to staff and to the user.
    #[schema(example = "Repeated fraud reports")]
    pub reason: String,
}

impl SuspendRequest {
    /// The end and the reason, each parsed once.
    ///
    /// # Errors
    /// 400 naming `until` and `reason` when they are invalid.
    pub fn try_into_domain(self) -> Result<(Option<OffsetDateTime>, SuspensionReason), ApiError> {
        let mut invalid = Refusals::default();
        let until = invalid.optional(self.until.as_deref().map(|u| instant("until", u)));
        let reason = invalid.take_as("reason", SuspensionReason::parse(&self.reason));
        match (until, reason) {
            (Some(until), Some(reason)) => Ok((until, reason)),
            _ => Err(ApiError::invalid_fields(invalid.into_inner()).in_domain(Domain::Account)),
        }
    }
}

/// `POST /accounts/{id}/roles`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    /// `ADMIN`, `STAFF` or `SERVER`.
    #[schema(example = "STAFF")]
    pub role: String,
}

/// A role an ADMIN may grant or revoke over HTTP: not USER (every account's) nor ANONYMOUS
/// (nobody's).
///
/// # Errors
/// 400 naming `role`.
pub fn grantable_role(s: &str) -> Result<Role, ApiError> {
    match s.trim().to_ascii_uppercase().parse::<Role>() {
        Ok(role @ (Role::Admin | Role::Staff | Role::Server)) => Ok(role),
        _ => Err(ParseError::new("role", "must be ADMIN, STAFF or SERVER").into()),
    }
}

/// `GET /admin/audit`'s filters and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// `account:42` (or `42`), `service:chat`, `cli:root`, `system`.
    pub actor: Option<String>,
    /// `account:42` (or `42`), `report:7`, `image:<key>`, `service:chat`.
    pub target: Option<String>,
    /// `role.grant`, `role.revoke`, `account.suspend`, `account.unsuspend`,
    /// `report.resolve`, `report.dismiss`, `report.assign`, `report.reopen`,
    /// `image.delete`, `account.delete`, `service_token.create`.
    pub action: Option<String>,
    /// RFC 3339, inclusive.
    pub since: Option<String>,
    /// RFC 3339, exclusive.
    pub until: Option<String>,
    /// Zero-based (default 0).
    pub page: Option<u64>,
    /// 1 to 100 (default 20).
    pub size: Option<u64>,
}

impl AuditQuery {
    /// The filter and the page.
    ///
    /// # Errors
    /// 400 naming every invalid parameter.
    pub fn try_into_domain(self) -> Result<(AuditFilter, Page), ApiError> {
        fn keep<T>(invalid: &mut Vec<ParseError>, r: Result<T, ParseError>) -> Option<T> {
            r.map_err(|e| invalid.push(e)).ok()
        }
        let mut invalid = Vec::new();
        let actor = self.actor.as_deref().map(str::parse::<AuditActor>);
        let target = self.target.as_deref().map(str::parse::<AuditTarget>);
        let action = self.action.as_deref().map(str::parse::<AuditAction>);
        let since = self.since.as_deref().map(|s| instant("since", s));
        let until = self.until.as_deref().map(|s| instant("until", s));
        let filter = AuditFilter {
            actor: actor.and_then(|r| keep(&mut invalid, r)),
            target: target.and_then(|r| keep(&mut invalid, r)),
            action: action.and_then(|r| keep(&mut invalid, r)),
            since: since.and_then(|r| keep(&mut invalid, r)),
            until: until.and_then(|r| keep(&mut invalid, r)),
        };
        let page = keep(&mut invalid, Page::parse(self.page, self.size));
        match page {
            Some(page) if invalid.is_empty() => Ok((filter, page)),
            _ => Err(ApiError::invalid_fields(invalid)),
        }
    }
}

/// A resolution's decision, as seed-style JSON: `{"suspend_target": {"until": …}}` (or
/// `{"suspend_target": {}}` for no end), `"remove_content"`, `"warn"`, `"none"` (each also
/// as `{"warn": {}}`).
///
/// # Errors
/// A `decision` that is none of these.
pub fn parse_decision(v: &serde_json::Value) -> Result<Decision, ParseError> {
    let bad = || {
        ParseError::new(
            "decision",
            "must be {\"suspend_target\": {\"until\": RFC 3339 or absent}}, \"remove_content\", \"warn\" or \"none\"",
        )
    };
    let (kind, args) = match v {
        serde_json::Value::String(s) => (s.as_str(), None),
        serde_json::Value::Object(map) if map.len() == 1 => {
            let (k, a) = map.iter().next().ok_or_else(bad)?;
            (k.as_str(), Some(a))
        }
        _ => return Err(bad()),
    };
    let no_args = || match args {
        None => true,
        Some(serde_json::Value::Object(m)) => m.is_empty(),
        Some(_) => false,
    };
    match kind {
        "suspend_target" => {
            let until = match args {
                None => None,
                Some(serde_json::Value::Object(m)) => match (m.get("until"), m.len()) {
                    (None, 0) | (Some(serde_json::Value::Null), 1) => None,
                    (Some(serde_json::Value::String(s)), 1) => Some(instant("decision.until", s)?),
                    _ => return Err(bad()),
                },
                Some(_) => return Err(bad()),
            };
            Ok(Decision::SuspendTarget { until })
        }
        "remove_content" if no_args() => Ok(Decision::RemoveContent),
        "warn" if no_args() => Ok(Decision::Warn),
        "none" if no_args() => Ok(Decision::None),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decisions_parse_in_their_documented_shapes_only() {
        assert_eq!(
            parse_decision(&json!({"suspend_target": {"until": "2026-12-31T00:00:00Z"}})).ok(),
            Some(Decision::SuspendTarget {
                until: Some(time::macros::datetime!(2026-12-31 0:00 UTC))
            })
        );
        assert_eq!(
            parse_decision(&json!({"suspend_target": {}})).ok(),
            Some(Decision::SuspendTarget { until: None })
        );
        assert_eq!(parse_decision(&json!("warn")).ok(), Some(Decision::Warn));
        assert_eq!(
            parse_decision(&json!({"remove_content": {}})).ok(),
            Some(Decision::RemoveContent)
        );
        for bad in [
            json!("ban"),
            json!({"suspend_target": {"until": "tomorrow"}}),
            json!({"suspend_target": {"until": "2026-12-31T00:00:00Z", "x": 1}}),
            json!({"warn": {"x": 1}}),
            json!({"warn": {}, "none": {}}),
            json!(3),
        ] {
            assert!(parse_decision(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bad_audit_query_names_every_bad_parameter() {
        let q = AuditQuery {
            actor: Some("robot:1".into()),
            target: Some("report:x".into()),
            action: Some("role.steal".into()),
            since: Some("yesterday".into()),
            until: None,
            page: None,
            size: Some(0),
        };
        let err = q.try_into_domain().expect_err("refused");
        let text = format!("{err:?}");
        for field in ["actor", "target", "action", "since", "size"] {
            assert!(text.contains(field), "{field} missing from {text}");
        }
    }
}
