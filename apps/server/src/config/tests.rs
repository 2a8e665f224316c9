use super::*;

fn prod() -> Config {
    let mut c = Config::for_tests("/tmp/x");
    c.app_env = AppEnv::Production;
    c.http.public_url = Some("https://api.example.com".into());
    c
}

#[test]
fn defaults_are_the_embedded_ones() {
    let c = Cli::parse_from(["server"]).config;
    assert_eq!(c.http.bind_addr.to_string(), "127.0.0.1:8080");
    assert_eq!(c.app_env, AppEnv::Dev);
    assert!(c.database.migrate_on_start);
    assert!(c.database_url().starts_with("sqlite://./data/service.db"));
    assert_eq!(c.http.public_url(c.http.bind_addr), "http://127.0.0.1:8080");
    assert!(c.problems().is_empty());
}

#[test]
fn production_refuses_unsafe_settings_and_names_each() {
    assert!(prod().problems().is_empty(), "{:?}", prod().problems());
    let mut c = prod();
    c.http.public_url = None;
    c.http.cors_origins = vec!["http://app.example.com".into(), "*".into()];
    let p = c.problems();
    assert!(
        p.iter().any(|m| m.contains("PUBLIC_URL must be set")),
        "{p:?}"
    );
    assert!(p.iter().any(|m| m.contains("\"*\"")), "{p:?}");
    assert!(p.iter().any(|m| m.contains("only https")), "{p:?}");
    let mut c = prod();
    c.http.public_url = Some("http://api.example.com".into());
    assert!(c.problems().iter().any(|m| m.contains("must be https")));
    let mut c = prod();
    c.events.event_endpoints = Some("chat=https://chat.internal/e * whsec_x".into());
    assert!(
        c.problems()
            .iter()
            .any(|m| m.contains("EVENT_ENDPOINTS entry 1")),
        "a malformed endpoint is refused"
    );
}

#[test]
fn a_debug_print_of_the_configuration_carries_no_secret() {
    let secrets = [
        "metrics-7f3a9c-secret",
        "aligo-7f3a9c-secret",
        "webhook-7f3a9c-secret",
        "-----BEGIN PRIVATE KEY-----7f3a9c",
        &"ab".repeat(32),
        "s3-7f3a9c-secret-access",
        "pg-7f3a9c-password",
        "oidc-7f3a9c-client-secret",
    ];
    let mut c = prod();
    c.http.metrics_token = Some(secrets[0].into());
    c.notify.aligo_key = Some(secrets[1].into());
    c.notify.webhook_secret = Some(secrets[2].into());
    c.storage.cloudfront_private_key = Some(secrets[3].into());
    c.storage.storage_signing_key = Some(secrets[4].into());
    c.storage.s3_secret_access_key = Some(secrets[5].into());
    c.storage.s3_access_key_id = Some("AKIA7F3A9C".into());
    c.database.database_url = Some(format!("postgres://svc:{}@db/app", secrets[6]).into());
    c.identity.oidc = vec![identity_oidc::OidcConfig::new(
        domain::RegistrationId::parse("google").unwrap(),
        "https://accounts.google.com",
        "web-client",
        Some(secrets[7].to_owned()),
    )];
    let printed = format!("{c:?} {c:#?} {:?}", c.problems());
    for s in secrets {
        assert!(!printed.contains(s), "{s} printed");
    }
    // And from the environment, as a deployment sets them.
    let cli = Cli::try_parse_from(["server", "--metrics-token", secrets[0]]).unwrap();
    assert!(!format!("{cli:?}").contains(secrets[0]));
}

#[test]
fn production_posts_events_only_to_https_hosts_elsewhere() {
    for (url, bad) in [
        ("https://chat.internal/e", false),
        ("https://10.0.0.5:8443/e", false),
        ("http://chat.internal/e", true),
        ("https://127.0.0.1/e", true),
        ("https://localhost:9000/e", true),
        ("https://LOCALHOST./e", true),
        ("https://169.254.169.254/latest", true),
        ("https://[::1]:8080/e", true),
        ("https://[fe80::1]/e", true),
        ("https://0.0.0.0/e", true),
        ("https://user@127.0.0.1/e", true),
    ] {
        let mut c = prod();
        c.events.event_endpoints = Some(format!(
            "chat={url} * whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        ));
        let p = c.problems();
        assert_eq!(
            p.iter().any(|m| m.starts_with("EVENT_ENDPOINTS chat")),
            bad,
            "{url}: {p:?}"
        );
        let mut c = prod();
        c.notify.webhook_url = Some(url.to_owned());
        assert_eq!(
            c.problems().iter().any(|m| m.starts_with("WEBHOOK_URL")),
            bad,
            "{url}"
        );
    }
}

#[test]
fn origins_are_normalised_and_paths_refused() {
    assert_eq!(
        parse_origin("HTTPS://App.Example.com/").as_deref(),
        Some("https://app.example.com")
    );
    assert_eq!(
        parse_origin("http://localhost:5173").as_deref(),
        Some("http://localhost:5173")
    );
    assert_eq!(parse_origin("https://a.example.com/path"), None);
    assert_eq!(parse_origin("https://*.example.com"), None);
    assert_eq!(parse_origin("ftp://a.example.com"), None);
    assert_eq!(parse_origin("a.example.com"), None);
    assert_eq!(
        public_origin("https://api.example.com/v1/").as_deref(),
        Some("https://api.example.com")
    );
    assert_eq!(public_origin("api.example.com"), None);
}

#[test]
fn dev_login_is_on_in_dev_and_refused_in_production() {
    assert!(Config::for_tests("/tmp/x").dev_login());
    assert!(!prod().dev_login());
    let mut c = prod();
    c.identity.dev_login = Some(true);
    assert!(c.problems().iter().any(|p| p.contains("DEV_LOGIN")));
}

#[test]
fn oidc_providers_are_read_from_prefixed_variables() {
    let mut c = Config::for_tests("/tmp/x");
    c.identity.oidc_providers = vec!["google".into(), "kakao".into()];
    let env = |k: &str| -> Option<String> {
        match k {
            "OIDC_GOOGLE_ISSUER_URL" => Some("https://accounts.google.com".into()),
            "OIDC_GOOGLE_CLIENT_ID" => Some("gid".into()),
            "OIDC_GOOGLE_CLIENT_SECRET" => Some("gsecret".into()),
            "OIDC_KAKAO_ISSUER_URL" => Some("https://kauth.kakao.com".into()),
            "OIDC_KAKAO_CLIENT_ID" => Some("kid".into()),
            "OIDC_KAKAO_SCOPES" => Some("openid profile_nickname account_email".into()),
            "OIDC_KAKAO_CLAIMS" => Some("name=nickname".into()),
            "OIDC_KAKAO_TOKEN_AUTH" => Some("post".into()),
            _ => None,
        }
    };
    c.identity.load_oidc(env).expect("both load");
    assert_eq!(c.identity.oidc.len(), 2);
    assert_eq!(
        c.identity.oidc[0]
            .client_secret
            .as_ref()
            .map(secrecy::ExposeSecret::expose_secret),
        Some("gsecret")
    );
    assert_eq!(
        c.identity.oidc[1].scopes,
        vec!["profile_nickname", "account_email"]
    );
    assert_eq!(c.identity.oidc[1].claims.name.as_deref(), Some("nickname"));
    assert!(c.identity.oidc[1].secret_in_body && !c.identity.oidc[0].secret_in_body);

    c.identity.oidc_providers = vec!["github".into(), "dev".into()];
    let problems = c
        .identity
        .load_oidc(|_| None)
        .expect_err("missing settings");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("OIDC_GITHUB_ISSUER_URL")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("built-in dev login")),
        "{problems:?}"
    );
}

#[test]
fn service_tokens_and_admin_emails_are_checked() {
    let mut c = Config::for_tests("/tmp/x");
    c.identity.service_tokens = vec![format!("chat:{}", "a".repeat(64)), "bad:123".into()];
    c.identity.admin_emails = vec!["boss@example.com".into(), "nope".into()];
    let p = c.problems();
    assert!(
        p.iter()
            .any(|m| m.contains("SERVICE_TOKENS") && m.contains("\"bad\"")),
        "{p:?}"
    );
    assert!(p.iter().any(|m| m.contains("ADMIN_EMAILS")), "{p:?}");
    assert!(
        !p.iter().any(|m| m.contains("123")),
        "hashes are not echoed"
    );
}

#[test]
fn migrate_on_start_can_be_switched_off() {
    let c = Cli::parse_from(["server", "--migrate-on-start", "false"]).config;
    assert!(!c.database.migrate_on_start);
}
