//! Property tests for every parser of untrusted input in the domain: object keys (and so
//! evidence keys and the legacy `report_img_path` string), session tokens, and
//! pagination (the image inspector's are in the imaging crate). Each must never panic, accept only
//! what its rule allows, and read back what was written.

use proptest::prelude::*;
use serde_json::Value;

use crate::page::Page;
use crate::report::{EvidenceKeys, ReportStatus, TargetType};
use crate::session::SessionToken;
use crate::storage::ObjectKey;
use crate::upload::parse_filename;

/// A valid key segment: letters, digits, '.', '_' and '-', not starting with '.'.
const SEGMENT: &str = "[A-Za-z0-9_-][A-Za-z0-9._-]{0,15}";

fn key() -> impl Strategy<Value = String> {
    prop::collection::vec(SEGMENT, 1..5).prop_map(|s| s.join("/"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_string_parses_as_a_key_only_when_it_cannot_escape_a_directory(s in "\\PC{0,80}|[./a-z]{0,12}") {
        if let Ok(k) = ObjectKey::parse(&s) {
            prop_assert_eq!(k.as_str(), s.as_str());
            prop_assert!(k.as_str().len() <= ObjectKey::MAX_LEN);
            prop_assert!(!k.as_str().starts_with('/') && !k.as_str().ends_with('/'));
            for seg in k.segments() {
                prop_assert!(!seg.is_empty() && !seg.starts_with('.'), "segment {seg:?}");
                prop_assert!(seg.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
            }
        }
    }

    #[test]
    fn well_formed_keys_are_accepted_and_read_back(k in key()) {
        let parsed = ObjectKey::parse(&k).expect("a well-formed key");
        prop_assert_eq!(parsed.as_str(), k.as_str());
    }

    #[test]
    fn the_legacy_evidence_string_reads_back_its_keys_however_it_is_punctuated(
        keys in prop::collection::vec(key(), 0..=10),
        seps in prop::collection::vec(prop::sample::select(vec![", ", ",", " ", ",  ", " , "]), 10),
        quote in prop::sample::select(vec!["", "\"", "'"]),
        brackets in any::<bool>(),
    ) {
        let mut s = String::new();
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                s.push_str(seps[i % seps.len()]);
            }
            s.push_str(&format!("{quote}{k}{quote}"));
        }
        if brackets {
            s = format!("[{s}]");
        }
        let parsed = EvidenceKeys::parse(Some(&Value::String(s))).expect("valid evidence");
        let mut want: Vec<&str> = Vec::new();
        for k in &keys {
            if !want.contains(&k.as_str()) {
                want.push(k);
            }
        }
        let got: Vec<&str> = parsed.keys().iter().map(ObjectKey::as_str).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn evidence_of_any_shape_never_panics_and_stays_bounded(s in "\\PC{0,300}", n in 0usize..30) {
        for v in [
            Value::String(s.clone()),
            Value::Array(vec![Value::String(s.clone()); n]),
            Value::Array((0..n).map(|i| Value::String(format!("report/{i}.png"))).collect()),
            serde_json::json!({"k": s}),
            Value::from(n),
        ] {
            if let Ok(e) = EvidenceKeys::parse(Some(&v)) {
                prop_assert!(e.keys().len() <= EvidenceKeys::MAX);
            }
        }
    }

    #[test]
    fn session_tokens_are_exactly_43_base64url_characters(s in "\\PC{0,60}|[A-Za-z0-9_-]{43}") {
        let ok = s.len() == 43 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        prop_assert_eq!(SessionToken::parse(&s).is_ok(), ok);
    }

    #[test]
    fn pages_accept_sizes_1_to_100_and_bounded_page_numbers(page in proptest::option::of(any::<u64>()), size in proptest::option::of(any::<u64>())) {
        let ok = size.is_none_or(|s| (1..=Page::MAX_SIZE).contains(&s)) && page.is_none_or(|p| p <= 1_000_000);
        let got = Page::parse(page, size);
        prop_assert_eq!(got.is_ok(), ok);
        if let Ok(p) = got {
            prop_assert_eq!(p.size, size.unwrap_or(20));
            prop_assert_eq!(p.number, page.unwrap_or(0));
        }
    }

    #[test]
    fn filenames_are_accepted_only_when_bare_printable_and_with_an_extension(name in "\\PC{0,40}|[a-z]{1,8}\\.[a-z]{1,4}|.{0,300}") {
        let got = parse_filename(&name);
        let printable = !name.chars().any(|c| {
            c.is_control() || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        });
        let ok = (1..=255).contains(&name.chars().count())
            && !name.contains(['/', '\\'])
            && printable
            && !name.starts_with('.')
            && name.contains('.')
            && !name.ends_with('.');
        prop_assert_eq!(got.is_ok(), ok, "{:?}", name);
        if let Ok(kept) = got {
            prop_assert_eq!(kept, name, "kept verbatim");
        }
    }

    #[test]
    fn report_filters_accept_only_their_values(
        status in "open|resolved|dismissed|\\PC{0,12}",
        target in "product|chat_room|user|\\PC{0,12}",
    ) {
        // The moderation list's filters parse into these (the edge's `ListInput`).
        let target_ok = matches!(target.as_str(), "product" | "chat_room" | "user");
        let got = target.parse::<TargetType>();
        prop_assert_eq!(got.is_ok(), target_ok);
        if let Ok(t) = got {
            prop_assert_eq!(t.as_str(), target.as_str());
        }
        let status_ok = matches!(status.as_str(), "open" | "resolved" | "dismissed");
        let got = status.parse::<ReportStatus>();
        prop_assert_eq!(got.is_ok(), status_ok);
        if let Ok(s) = got {
            prop_assert_eq!(s.as_str(), status.as_str());
        }
    }
}
