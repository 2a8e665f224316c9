use super::*;

#[test]
fn claim_mappings_parse_and_refuse_unknown_fields() {
    let m =
        ClaimMapping::parse("name=properties.nickname, email=kakao_account.email").expect("valid");
    assert_eq!(m.name.as_deref(), Some("properties.nickname"));
    assert_eq!(m.email.as_deref(), Some("kakao_account.email"));
    assert!(ClaimMapping::parse("nickname=x").is_err());
    assert!(ClaimMapping::parse("name").is_err());
    assert!(ClaimMapping::parse("").expect("empty").is_empty());
}

#[test]
fn json_paths_reach_nested_values() {
    let v = serde_json::json!({"kakao_account": {"profile": {"nickname": "라이언"}, "id": 7}});
    assert_eq!(
        string_at(&v, Some(&"kakao_account.profile.nickname".to_owned())).as_deref(),
        Some("라이언")
    );
    assert_eq!(
        string_at(&v, Some(&"kakao_account.id".to_owned())).as_deref(),
        Some("7")
    );
    assert_eq!(string_at(&v, Some(&"missing.path".to_owned())), None);
}

#[test]
fn none_is_never_an_allowed_algorithm() {
    assert!(parse_alg("none").is_err());
    assert!(parse_alg("HS256").is_err(), "no shared-secret algorithms");
    assert!(parse_alg("RS256").is_ok());
    let mut c = OidcConfig::new(
        RegistrationId::parse("x").expect("id"),
        "https://issuer.example.com",
        "client",
        None,
    );
    c.allowed_algs = vec!["none".into()];
    assert!(OidcProvider::new(c).is_err());
}
