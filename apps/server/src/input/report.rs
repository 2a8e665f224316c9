//! The chat API's report, a moderation request and the moderation list's filters, checked and
//! turned into domain values.

use domain::{
    Decision, EvidenceKeys, ModerationAction, Page, ParseError, ReportCategoryId, ReportFilter,
    ReportReason, ReportStatus, ReportSubmission, ReportTarget, TargetType,
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationError};

use super::admin::parse_decision;
use super::{Refusals, field_errors, refused, refused_fields};
use crate::error::{ApiError, Domain};

/// The chat API's report: exactly one of the three targets.
#[derive(Debug, Deserialize, ToSchema, Validate)]
pub struct ReportBody {
    #[schema(example = 1)]
    #[validate(
        required(message = "is required"),
        range(min = 1, message = "must be a positive id")
    )]
    pub report_category_id: Option<i64>,
    pub report_product_id: Option<i64>,
    #[schema(example = 7)]
    pub report_room_id: Option<i64>,
    pub report_user_id: Option<i64>,
    /// 1 to 1000 characters.
    #[validate(required(message = "is required"))]
    pub report_etc_reason: Option<String>,
    /// A JSON array of image keys, or the chat API's string `"[a.jpg, b.jpg]"`; up to 10, each
    /// the reporter's own confirmed image of channel `report`.
    #[schema(value_type = Option<Object>, example = json!(["report/2026/11/23/42/Zx9.png"]))]
    pub report_img_path: Option<serde_json::Value>,
}

impl ReportBody {
    /// The report, checked.
    ///
    /// # Errors
    /// 400 naming every invalid field: the category, the target (exactly one), the
    /// reason, the evidence keys.
    pub fn try_into_domain(self) -> Result<ReportSubmission, ApiError> {
        let errors = self.validate().err();
        let refused = |fields: &[(&str, &'static str)]| refused_fields(errors.as_ref(), fields);
        // In the order of the body: the category, the target, the reason, the evidence;
        // each parsed once.
        let mut invalid = Refusals::default();
        invalid.extend(refused(&[("report_category_id", "report_category_id")]));
        let target = invalid.take(ReportTarget::from_fields(
            self.report_product_id,
            self.report_room_id,
            self.report_user_id,
        ));
        invalid.extend(refused(&[("report_etc_reason", "report_etc_reason")]));
        let reason = self
            .report_etc_reason
            .as_deref()
            .and_then(|r| invalid.take_as("report_etc_reason", ReportReason::parse(r)));
        let evidence = match &self.report_img_path {
            Some(v) => invalid.take_as("report_img_path", EvidenceKeys::parse(Some(v))),
            None => invalid.take(EvidenceKeys::parse(None)),
        };
        match (self.report_category_id, target, reason, evidence) {
            (Some(category), Some(target), Some(reason), Some(evidence)) if invalid.is_empty() => {
                Ok(ReportSubmission {
                    category: ReportCategoryId::new(category),
                    target,
                    reason,
                    evidence,
                })
            }
            _ => Err(ApiError::invalid_fields(invalid.into_inner()).in_domain(Domain::Report)),
        }
    }
}

/// A moderation request.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ModerateRequest {
    /// `resolve`, `dismiss` (from open), `assign` (to yourself, while open), `reopen`.
    #[schema(example = "resolve")]
    pub action: String,
    /// Up to 1000 characters; kept with resolutions and in the history.
    #[validate(custom(function = "valid_note"))]
    pub note: Option<String>,
    /// With `resolve` only: what was done about the target.
    /// `{"suspend_target": {"until": "2026-12-31T00:00:00Z"}}` (a user target; `{}` for
    /// no end), or `"remove_content"` (a product or chat room), `"warn"`, `"none"`.
    #[schema(value_type = Option<Object>, example = json!({"suspend_target": {"until": "2026-12-31T00:00:00Z"}}))]
    pub decision: Option<serde_json::Value>,
}

/// The longest moderation note, in characters after trimming.
const NOTE_MAX: usize = 1000;

fn valid_note(n: &str) -> Result<(), ValidationError> {
    if n.trim().chars().count() > NOTE_MAX {
        Err(refused("must be at most 1000 characters"))
    } else {
        Ok(())
    }
}

impl ModerateRequest {
    /// The action, the note (trimmed; blank is none) and the decision.
    ///
    /// # Errors
    /// 400 for an unknown action, a note too long or a malformed decision.
    pub fn try_into_domain(self) -> Result<Moderation, ApiError> {
        let action: ModerationAction = self.action.parse()?;
        let mut invalid = match self.validate() {
            Ok(()) => Vec::new(),
            Err(errors) => field_errors(&errors, &[("note", "note")]),
        };
        let decision = match self.decision.as_ref().filter(|d| !d.is_null()) {
            None => None,
            Some(d) => parse_decision(d).map_err(|e| invalid.push(e)).ok(),
        };
        if !invalid.is_empty() {
            return Err(ApiError::invalid_fields(invalid).in_domain(Domain::Report));
        }
        let note = self
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        Ok(Moderation {
            action,
            note,
            decision,
        })
    }
}

/// A checked moderation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moderation {
    pub action: ModerationAction,
    pub note: Option<String>,
    pub decision: Option<Decision>,
}

/// The moderation list's filters and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `open`, `resolved` or `dismissed`.
    pub status: Option<String>,
    /// `product`, `chat_room` or `user`.
    pub target_type: Option<String>,
    pub target_id: Option<i64>,
    pub category_id: Option<i64>,
    pub reporter_id: Option<i64>,
    pub page: Option<u64>,
    pub size: Option<u64>,
}

impl ListQuery {
    /// The filter and the page; ids pass as given (an id that matches nothing lists
    /// nothing).
    ///
    /// # Errors
    /// 400 naming the first value that is none of its allowed ones.
    pub fn try_into_domain(self) -> Result<(ReportFilter, Page), ApiError> {
        let page = Page::parse(self.page, self.size)?;
        let parse = || -> Result<ReportFilter, ParseError> {
            Ok(ReportFilter {
                status: self
                    .status
                    .as_deref()
                    .map(str::parse::<ReportStatus>)
                    .transpose()?,
                target_type: self
                    .target_type
                    .as_deref()
                    .map(str::parse::<TargetType>)
                    .transpose()?,
                target_id: self.target_id,
                category: self.category_id.map(ReportCategoryId::new),
                reporter: self.reporter_id.map(domain::AccountId::new),
            })
        };
        Ok((parse()?, page))
    }
}

#[cfg(test)]
mod tests {
    //! Moved from the report service's tests when checking requests moved to the edge.
    use super::*;

    #[test]
    fn every_field_problem_is_reported_at_once() {
        let req = ReportBody {
            report_category_id: None,
            report_product_id: Some(3),
            report_room_id: Some(7),
            report_user_id: None,
            report_etc_reason: Some("  ".into()),
            report_img_path: Some(serde_json::json!(42)),
        };
        let body = req.try_into_domain().expect_err("refused").body();
        assert_eq!(
            body.invalid_fields.expect("fields"),
            vec![
                "report_category_id",
                "target",
                "report_etc_reason",
                "report_img_path"
            ]
        );
    }

    #[test]
    fn long_notes_are_refused_and_notes_are_trimmed() {
        let long = ModerateRequest {
            action: "dismiss".into(),
            note: Some("x".repeat(1001)),
            decision: None,
        };
        let e = long.try_into_domain().expect_err("too long");
        assert_eq!(e.code(), crate::error::ErrorCode::InvalidInput);
        let trimmed = ModerateRequest {
            action: "resolve".into(),
            note: Some(" 경고 조치 ".into()),
            decision: Some(serde_json::json!("warn")),
        };
        assert_eq!(
            trimmed.try_into_domain().expect("valid"),
            Moderation {
                action: ModerationAction::Resolve,
                note: Some("경고 조치".to_owned()),
                decision: Some(Decision::Warn),
            }
        );
    }
}
