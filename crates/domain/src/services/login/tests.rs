use super::*;
use time::Duration;

use crate::account::{AccountId, Identity};
use crate::login::IdentityError;
use crate::ports::MockAccountRepository;
use crate::ports::MockClock;
use crate::ports::MockSessionRepository;
use crate::ports::Repositories;
use crate::ports::{MockIdentityProvider, MockLoginStateRepository};
use crate::services::sessions::SessionPolicy;
use crate::session::Session;
use mockall::predicate::*;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);
const ISSUER: &str = "https://accounts.example.com";

fn clock() -> Arc<dyn Clock> {
    let mut c = MockClock::new();
    c.expect_now().return_const(NOW);
    Arc::new(c)
}

fn claims(sub: &str, email: Option<&str>, verified: bool, name: Option<&str>) -> ProviderClaims {
    ProviderClaims {
        identity: Identity::new(ISSUER, sub).expect("identity"),
        email: email.map(str::to_owned),
        email_verified: verified,
        name: name.map(str::to_owned),
        locale: Some("ko-KR".into()),
        gender: None,
        birth_date: None,
    }
}

fn account(id: i64, roles: Roles) -> Account {
    Account {
        name: Some(DisplayName::parse("Alice").expect("name")),
        email: Some(Email::parse("alice@example.com").expect("email")),
        email_verified: true,
        roles,
        ..Account::bare(id, NOW)
    }
}

/// Session repository that stores whatever it is given.
fn sessions() -> MockSessionRepository {
    let mut s = MockSessionRepository::new();
    s.expect_insert().returning(|n| {
        Ok(Session {
            id: n.id,
            account_id: n.account_id,
            created_at: n.created_at,
            last_seen_at: n.created_at,
            idle_expires_at: n.idle_expires_at,
            absolute_expires_at: n.absolute_expires_at,
            revoked_at: None,
            user_agent: n.user_agent,
            ip: n.ip,
        })
    });
    s
}

fn provider(result: ProviderClaims) -> MockIdentityProvider {
    let mut p = MockIdentityProvider::new();
    p.expect_registration_id()
        .return_const(RegistrationId::parse("google").expect("id"));
    p.expect_issuer().return_const(ISSUER.to_owned());
    p.expect_exchange()
        .returning(move |_, _, _, _| Ok(result.clone()));
    p
}

fn flow(id: &str) -> LoginFlow {
    LoginFlow {
        registration_id: RegistrationId::parse(id).expect("id"),
        nonce: "n".into(),
        pkce_verifier: "v".into(),
        created_at: NOW,
        expires_at: NOW + Duration::minutes(10),
    }
}

fn states_with_flow(id: &'static str) -> MockLoginStateRepository {
    let mut s = MockLoginStateRepository::new();
    s.expect_take_flow()
        .with(eq(TokenHash::of("st")), eq(NOW))
        .times(1)
        .returning(move |_, _| Ok(Some(flow(id))));
    s
}

fn login(
    p: MockIdentityProvider,
    accounts: MockAccountRepository,
    states: MockLoginStateRepository,
    admin_emails: &[&str],
) -> Login {
    let sessions = Sessions::new(Arc::new(sessions()), clock(), SessionPolicy::default());
    Login::new(
        vec![Arc::new(p)],
        &Repositories {
            accounts: Arc::new(accounts),
            login_states: Arc::new(states),
            ..Repositories::unused()
        },
        sessions,
        clock(),
        LoginPolicy {
            admin_emails: admin_emails
                .iter()
                .map(|e| Email::parse(e).expect("email"))
                .collect(),
            ..LoginPolicy::default()
        },
        "https://api.example.com",
    )
}

fn callback() -> Callback {
    Callback {
        code: Some("code".into()),
        state: Some("st".into()),
        ..Callback::default()
    }
}

async fn complete(l: &Login) -> Result<LoginOutcome, LoginError> {
    l.complete("google", callback(), Some("st"), SessionMeta::default())
        .await
}

#[tokio::test]
async fn begin_stores_the_flow_under_the_state_hash_with_a_ttl() {
    let mut p = MockIdentityProvider::new();
    p.expect_registration_id()
        .return_const(RegistrationId::parse("google").expect("id"));
    p.expect_authorize()
        .withf(|uri, hints| {
            uri == "https://api.example.com/login/oauth2/code/google"
                && hints.login_hint.as_deref() == Some("a@example.com")
        })
        .returning(|_, _| {
            Ok(AuthorizationRedirect {
                url: "https://idp/authorize".into(),
                state: "st".into(),
                nonce: "n".into(),
                pkce_verifier: "v".into(),
            })
        });
    let mut states = MockLoginStateRepository::new();
    states.expect_purge_expired().returning(|_| Ok(0));
    states
        .expect_save_flow()
        .withf(|h, f| {
            *h == TokenHash::of("st")
                && f.nonce == "n"
                && f.pkce_verifier == "v"
                && f.expires_at == NOW + Duration::minutes(10)
                && f.registration_id.as_str() == "google"
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let l = login(p, MockAccountRepository::new(), states, &[]);
    let hints = LoginHints {
        login_hint: Some("a@example.com".into()),
        name: None,
    };
    assert_eq!(
        l.begin("google", &hints).await.expect("begin").url,
        "https://idp/authorize"
    );
    assert!(matches!(
        l.begin("facebook", &hints).await,
        Err(LoginError::UnknownProvider)
    ));
    assert!(matches!(
        l.begin("../x", &hints).await,
        Err(LoginError::UnknownProvider)
    ));
}

#[tokio::test]
async fn a_known_identity_logs_in_without_creating_anything() {
    let mut accounts = MockAccountRepository::new();
    accounts
        .expect_find_by_identity()
        .returning(|_| Ok(Some(account(7, Roles::user()))));
    accounts.expect_create().never();
    accounts.expect_link_identity().never();
    let l = login(
        provider(claims("s1", Some("alice@example.com"), true, Some("Alice"))),
        accounts,
        states_with_flow("google"),
        &[],
    );
    let LoginOutcome::LoggedIn(done) = complete(&l).await.expect("ok") else {
        panic!("expected a login")
    };
    assert_eq!(done.account.id, AccountId::new(7));
    assert_eq!(done.session.session.account_id, AccountId::new(7));
}

#[tokio::test]
async fn a_new_identity_with_a_verified_email_links_to_the_existing_account() {
    let mut accounts = MockAccountRepository::new();
    accounts.expect_find_by_identity().returning(|_| Ok(None));
    accounts
        .expect_find_by_verified_email()
        .withf(|e| e.as_str() == "alice@example.com")
        .returning(|_| Ok(Some(account(7, Roles::user()))));
    accounts
        .expect_link_identity()
        .withf(|id, ident, _, _| *id == AccountId::new(7) && ident.subject() == "kakao-1")
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    accounts.expect_create().never();
    let l = login(
        provider(claims(
            "kakao-1",
            Some("Alice@Example.com"),
            true,
            Some("앨리스"),
        )),
        accounts,
        states_with_flow("google"),
        &[],
    );
    assert!(matches!(complete(&l).await, Ok(LoginOutcome::LoggedIn(_))));
}

#[tokio::test]
async fn a_suspended_account_found_by_email_is_refused_before_any_link() {
    let mut accounts = MockAccountRepository::new();
    accounts.expect_find_by_identity().returning(|_| Ok(None));
    accounts.expect_find_by_verified_email().returning(|_| {
        Ok(Some(Account {
            suspension: Some(crate::account::Suspension {
                by: AccountId::new(1),
                at: NOW,
                until: None,
                reason: crate::account::SuspensionReason::parse("fraud").unwrap(),
                note: None,
                report: None,
            }),
            ..account(7, Roles::user())
        }))
    });
    accounts.expect_link_identity().never();
    accounts.expect_create().never();
    let l = login(
        provider(claims(
            "kakao-1",
            Some("Alice@Example.com"),
            true,
            Some("앨리스"),
        )),
        accounts,
        states_with_flow("google"),
        &[],
    );
    assert!(matches!(
        complete(&l).await,
        Err(LoginError::Suspended { until: None })
    ));
}

#[tokio::test]
async fn an_unverified_email_never_links() {
    let mut accounts = MockAccountRepository::new();
    accounts.expect_find_by_identity().returning(|_| Ok(None));
    accounts.expect_find_by_verified_email().never();
    accounts.expect_link_identity().never();
    accounts
        .expect_create()
        .withf(|n| !n.email_verified && n.roles == Roles::user())
        .times(1)
        .returning(|_| Ok(account(8, Roles::user())));
    let l = login(
        provider(claims(
            "s2",
            Some("alice@example.com"),
            false,
            Some("Mallory"),
        )),
        accounts,
        states_with_flow("google"),
        &["alice@example.com"],
    );
    let LoginOutcome::LoggedIn(done) = complete(&l).await.expect("ok") else {
        panic!("expected a login")
    };
    assert!(
        !done.account.roles.contains(Role::Admin),
        "no ADMIN on an unverified e-mail"
    );
}

#[tokio::test]
async fn insufficient_claims_become_a_pending_registration_listing_each_field() {
    let mut accounts = MockAccountRepository::new();
    accounts.expect_find_by_identity().returning(|_| Ok(None));
    accounts
        .expect_find_by_verified_email()
        .returning(|_| Ok(None));
    accounts.expect_create().never();
    let mut states = states_with_flow("google");
    states
        .expect_save_pending()
        .withf(|_, p| p.expires_at == NOW + Duration::minutes(30) && p.claims.name.is_none())
        .times(1)
        .returning(|_, _| Ok(()));
    let mut bad = claims("s3", Some("alice@example.com"), true, None);
    bad.birth_date = Some("2999-01-01".into());
    let l = login(provider(bad), accounts, states, &[]);
    let LoginOutcome::NeedsRegistration { token, invalid } = complete(&l).await.expect("ok") else {
        panic!("expected a pending registration")
    };
    assert_eq!(token.len(), 43);
    let fields: Vec<_> = invalid.iter().map(|e| e.field).collect();
    assert_eq!(fields, vec!["name", "birthDate"]);
}

#[tokio::test]
async fn admin_emails_grant_admin_on_a_verified_email() {
    let mut accounts = MockAccountRepository::new();
    accounts
        .expect_find_by_identity()
        .returning(|_| Ok(Some(account(7, Roles::user()))));
    accounts
        .expect_update()
        .withf(|id, u, _| {
            *id == AccountId::new(7) && u.roles.as_ref().is_some_and(|r| r.contains(Role::Admin))
        })
        .times(1)
        .returning(|_, u, _| Ok(account(7, u.roles.unwrap_or_default())));
    let l = login(
        provider(claims("s1", Some("ALICE@example.com"), true, Some("Alice"))),
        accounts,
        states_with_flow("google"),
        &["alice@example.com"],
    );
    let LoginOutcome::LoggedIn(done) = complete(&l).await.expect("ok") else {
        panic!("expected a login")
    };
    assert!(done.account.roles.contains(Role::Admin));
}

#[tokio::test]
async fn a_state_that_does_not_match_the_cookie_is_refused_before_any_work() {
    let mut states = MockLoginStateRepository::new();
    states.expect_take_flow().never();
    let mut p = MockIdentityProvider::new();
    p.expect_registration_id()
        .return_const(RegistrationId::parse("google").expect("id"));
    p.expect_exchange().never();
    let l = login(p, MockAccountRepository::new(), states, &[]);
    for bound in [Some("other"), None] {
        assert!(matches!(
            l.complete("google", callback(), bound, SessionMeta::default())
                .await,
            Err(LoginError::InvalidState)
        ));
    }
    let no_state = Callback {
        state: None,
        ..callback()
    };
    assert!(matches!(
        l.complete("google", no_state, Some("st"), SessionMeta::default())
            .await,
        Err(LoginError::InvalidState)
    ));
}

#[tokio::test]
async fn a_used_or_expired_state_is_refused() {
    let mut states = MockLoginStateRepository::new();
    states.expect_take_flow().returning(|_, _| Ok(None));
    let mut p = MockIdentityProvider::new();
    p.expect_registration_id()
        .return_const(RegistrationId::parse("google").expect("id"));
    p.expect_exchange().never();
    let l = login(p, MockAccountRepository::new(), states, &[]);
    assert!(matches!(complete(&l).await, Err(LoginError::InvalidState)));
}

#[tokio::test]
async fn a_flow_started_for_another_provider_is_refused() {
    let mut p = MockIdentityProvider::new();
    p.expect_registration_id()
        .return_const(RegistrationId::parse("google").expect("id"));
    p.expect_exchange().never();
    let l = login(
        p,
        MockAccountRepository::new(),
        states_with_flow("kakao"),
        &[],
    );
    assert!(matches!(
        complete(&l).await,
        Err(LoginError::ProviderMismatch)
    ));
}

#[tokio::test]
async fn provider_failures_map_to_unavailable_or_rejected_and_create_nothing() {
    for (err, unavailable) in [
        (IdentityError::Unavailable("down".into()), true),
        (IdentityError::Rejected("bad nonce".into()), false),
    ] {
        let mut p = MockIdentityProvider::new();
        p.expect_registration_id()
            .return_const(RegistrationId::parse("google").expect("id"));
        let mut err = Some(err);
        p.expect_exchange()
            .times(1)
            .returning(move |_, _, _, _| Err(err.take().expect("once")));
        let mut accounts = MockAccountRepository::new();
        accounts.expect_create().never();
        let l = login(p, accounts, states_with_flow("google"), &[]);
        let got = complete(&l).await;
        if unavailable {
            assert!(
                matches!(got, Err(LoginError::ProviderUnavailable(_))),
                "{got:?}"
            );
        } else {
            assert!(matches!(got, Err(LoginError::Rejected(_))), "{got:?}");
        }
    }
}

#[tokio::test]
async fn a_provider_error_in_the_callback_still_consumes_the_state() {
    let mut p = MockIdentityProvider::new();
    p.expect_registration_id()
        .return_const(RegistrationId::parse("google").expect("id"));
    p.expect_exchange().never();
    let l = login(
        p,
        MockAccountRepository::new(),
        states_with_flow("google"),
        &[],
    );
    let cb = Callback {
        error: Some("access_denied".into()),
        code: None,
        ..callback()
    };
    assert!(matches!(
        l.complete("google", cb, Some("st"), SessionMeta::default()).await,
        Err(LoginError::ProviderDenied(e)) if e == "access_denied"
    ));
}

fn pending(claims: ProviderClaims) -> PendingRegistration {
    PendingRegistration {
        claims,
        created_at: NOW,
        expires_at: NOW + Duration::minutes(30),
    }
}

#[tokio::test]
async fn register_completes_with_the_missing_fields_and_deletes_the_pending_one() {
    let mut states = MockLoginStateRepository::new();
    states
        .expect_find_pending()
        .with(eq(TokenHash::of("tok")), eq(NOW))
        .returning(|_, _| {
            Ok(Some(pending(claims(
                "s4",
                Some("bob@example.com"),
                true,
                None,
            ))))
        });
    states
        .expect_delete_pending()
        .with(eq(TokenHash::of("tok")))
        .times(1)
        .returning(|_| Ok(true));
    let mut accounts = MockAccountRepository::new();
    accounts
        .expect_create()
        .withf(|n| {
            n.name.as_ref().map(DisplayName::as_str) == Some("Bob")
                && n.email_verified
                && n.identity.subject() == "s4"
        })
        .times(1)
        .returning(|_| Ok(account(9, Roles::user())));
    let l = login(
        provider(claims("x", None, false, None)),
        accounts,
        states,
        &[],
    );
    let form = RegistrationForm {
        name: Some("Bob".into()),
        ..RegistrationForm::default()
    };
    let done = l
        .register("tok", form, SessionMeta::default())
        .await
        .expect("registered");
    assert_eq!(done.account.id, AccountId::new(9));
}

#[tokio::test]
async fn a_typed_email_is_not_verified() {
    let mut states = MockLoginStateRepository::new();
    states
        .expect_find_pending()
        .returning(|_, _| Ok(Some(pending(claims("s5", None, true, Some("Carol"))))));
    states.expect_delete_pending().returning(|_| Ok(true));
    let mut accounts = MockAccountRepository::new();
    accounts
        .expect_create()
        .withf(|n| !n.email_verified)
        .times(1)
        .returning(|_| Ok(account(10, Roles::user())));
    let l = login(
        provider(claims("x", None, false, None)),
        accounts,
        states,
        &[],
    );
    let form = RegistrationForm {
        email: Some("carol@example.com".into()),
        ..RegistrationForm::default()
    };
    l.register("tok", form, SessionMeta::default())
        .await
        .expect("registered");
}

#[tokio::test]
async fn register_with_still_invalid_fields_keeps_the_pending_registration() {
    let mut states = MockLoginStateRepository::new();
    states.expect_find_pending().returning(|_, _| {
        Ok(Some(pending(claims(
            "s6",
            Some("d@example.com"),
            true,
            None,
        ))))
    });
    states.expect_delete_pending().never();
    let mut accounts = MockAccountRepository::new();
    accounts.expect_create().never();
    let l = login(
        provider(claims("x", None, false, None)),
        accounts,
        states,
        &[],
    );
    let form = RegistrationForm {
        name: Some("D".into()),
        gender: Some("OTHER".into()),
        ..RegistrationForm::default()
    };
    match l.register("tok", form, SessionMeta::default()).await {
        Err(RegisterError::Insufficient(invalid)) => {
            let fields: Vec<_> = invalid.iter().map(|e| e.field).collect();
            assert_eq!(fields, vec!["name", "gender"]);
        }
        other => panic!("expected Insufficient, got {other:?}"),
    }
}

#[tokio::test]
async fn register_without_a_pending_registration_is_refused() {
    let mut states = MockLoginStateRepository::new();
    states.expect_find_pending().returning(|_, _| Ok(None));
    let l = login(
        provider(claims("x", None, false, None)),
        MockAccountRepository::new(),
        states,
        &[],
    );
    assert!(matches!(
        l.register("tok", RegistrationForm::default(), SessionMeta::default())
            .await,
        Err(RegisterError::NoPendingRegistration)
    ));
}
