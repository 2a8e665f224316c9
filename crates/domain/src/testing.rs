//! Conformance suites: one per port, run unchanged against every adapter (the SQL store on
//! SQLite and PostgreSQL, the object store on local disk and S3). An adapter passes when its
//! suite passes; the services rely on nothing more than what these suites check.
//!
//! Every case works with fresh, unique data, so a suite can run against a store that other
//! tests use too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use futures_util::stream;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::account::{
    AccountRepository, AccountUpdate, BirthDate, DisplayName, Email, Gender, Identity, Locale,
    NewAccount, Role, Roles,
};
use crate::error::{CreateAccountError, LinkIdentityError, UpdateAccountError};
use crate::image::{
    Channel, ImageFilter, ImageRepository, ImageStatus, ImageType, InsertImageError, NewImage,
    ReadyImage, UploadLimit, UploadLimits,
};
use crate::login::{
    LoginFlow, LoginStateRepository, PendingRegistration, ProviderClaims, RegistrationId,
};
use crate::outbox::Outbox;
use crate::report::{
    CreateReportError, Enqueue, NewReport, Page, ReportCategoryId, ReportChange, ReportEvent,
    ReportFilter, ReportReason, ReportRepository, ReportStatus, ReportTarget,
};
use crate::session::TokenHash;
use crate::session::{NewSession, SessionId, SessionRepository, SessionToken};
use crate::storage::{ByteStream, KeyPrefix, ObjectKey, ObjectStore, StorageError};

/// A base instant with sub-second digits of varying length, so that adapters that store
/// timestamps as text prove their ordering and precision.
const T0: OffsetDateTime = datetime!(2026-11-23 10:00:00.123456 UTC);

fn unique() -> String {
    Uuid::new_v4().simple().to_string()
}

fn identity(issuer: &str) -> Identity {
    Identity::new(issuer, &format!("sub-{}", unique())).unwrap()
}

fn new_account(email: Option<&str>, verified: bool, at: OffsetDateTime) -> NewAccount {
    NewAccount {
        identity: identity("https://issuer.example"),
        name: Some(DisplayName::parse("Alice Kim").unwrap()),
        email: email.map(|e| Email::parse(e).unwrap()),
        email_verified: verified,
        gender: Some(Gender::Female),
        birth_date: Some(BirthDate::parse("1990-02-03", T0.date()).unwrap()),
        locale: Some(Locale::parse("ko-KR").unwrap()),
        roles: Roles::user(),
        created_at: at,
    }
}

fn unique_email() -> String {
    format!("u{}@example.com", unique())
}

/// Runs every account-repository case.
pub async fn account_repository(repo: &dyn AccountRepository) {
    accounts_round_trip(repo).await;
    accounts_identity_is_unique(repo).await;
    accounts_find_by_verified_email(repo).await;
    accounts_link_identity(repo).await;
    accounts_update(repo).await;
    accounts_withdraw(repo).await;
}

async fn accounts_round_trip(repo: &dyn AccountRepository) {
    let new = new_account(Some(&unique_email()), true, T0);
    let created = repo.create(new.clone()).await.expect("create");
    assert!(created.id.get() > 0, "ids are positive");
    assert_eq!(created.name, new.name);
    assert_eq!(created.email, new.email);
    assert!(created.email_verified);
    assert_eq!(created.gender, new.gender);
    assert_eq!(created.birth_date, new.birth_date);
    assert_eq!(created.locale, new.locale);
    assert_eq!(created.roles, Roles::user());
    assert_eq!(created.profile_image_key, None);
    assert_eq!(created.created_at, T0, "timestamps keep microseconds");
    assert_eq!(created.updated_at, T0);
    assert_eq!(created.withdrawn_at, None);

    let by_id = repo.find_by_id(created.id).await.expect("find_by_id");
    assert_eq!(
        by_id.as_ref(),
        Some(&created),
        "find_by_id returns what create did"
    );
    let by_identity = repo
        .find_by_identity(&new.identity)
        .await
        .expect("by identity");
    assert_eq!(by_identity.as_ref(), Some(&created));

    let other_subject = Identity::new(new.identity.issuer(), "someone-else").unwrap();
    assert_eq!(
        repo.find_by_identity(&other_subject).await.expect("q"),
        None
    );
    let other_issuer = Identity::new("https://other.example", new.identity.subject()).unwrap();
    assert_eq!(
        repo.find_by_identity(&other_issuer).await.expect("q"),
        None,
        "identities are keyed by issuer and subject together"
    );
    assert_eq!(
        repo.find_by_id(crate::AccountId::new(i64::MAX))
            .await
            .expect("q"),
        None
    );

    let second = repo
        .create(new_account(None, false, T0))
        .await
        .expect("create second");
    assert!(second.id > created.id, "ids increase");
    assert_eq!(second.email, None);
}

async fn accounts_identity_is_unique(repo: &dyn AccountRepository) {
    let first = new_account(Some(&unique_email()), true, T0);
    repo.create(first.clone()).await.expect("create");
    let mut dup = new_account(Some(&unique_email()), true, T0);
    dup.identity = first.identity.clone();
    let dup_email = dup.email.clone().unwrap();
    match repo.create(dup).await {
        Err(CreateAccountError::DuplicateIdentity) => {}
        other => {
            panic!("a second account for one identity must be DuplicateIdentity, got {other:?}")
        }
    }
    assert_eq!(
        repo.find_by_verified_email(&dup_email).await.expect("q"),
        None,
        "a refused create writes nothing"
    );
}

async fn accounts_find_by_verified_email(repo: &dyn AccountRepository) {
    let email = unique_email();
    let unverified = repo
        .create(new_account(Some(&email), false, T0))
        .await
        .unwrap();
    let parsed = Email::parse(&email.to_uppercase()).unwrap();
    assert_eq!(
        repo.find_by_verified_email(&parsed).await.expect("q"),
        None,
        "an unverified email never matches"
    );
    let oldest = repo
        .create(new_account(Some(&email), true, T0 + Duration::seconds(1)))
        .await
        .unwrap();
    let _newer = repo
        .create(new_account(Some(&email), true, T0 + Duration::seconds(2)))
        .await
        .unwrap();
    let found = repo.find_by_verified_email(&parsed).await.expect("q");
    assert_eq!(
        found.map(|a| a.id),
        Some(oldest.id),
        "the oldest verified account wins"
    );
    assert_ne!(unverified.id, oldest.id);

    repo.withdraw(oldest.id, T0 + Duration::seconds(3))
        .await
        .unwrap();
    let found = repo.find_by_verified_email(&parsed).await.expect("q");
    assert_ne!(
        found.map(|a| a.id),
        Some(oldest.id),
        "withdrawn accounts never match"
    );
}

async fn accounts_link_identity(repo: &dyn AccountRepository) {
    let a = repo
        .create(new_account(Some(&unique_email()), true, T0))
        .await
        .unwrap();
    let b_new = new_account(None, false, T0);
    let b = repo.create(b_new.clone()).await.unwrap();

    let kakao = identity("https://kauth.kakao.com");
    repo.link_identity(a.id, kakao.clone(), T0)
        .await
        .expect("link");
    assert_eq!(
        repo.find_by_identity(&kakao)
            .await
            .expect("q")
            .map(|x| x.id),
        Some(a.id)
    );
    assert!(matches!(
        repo.link_identity(b.id, kakao.clone(), T0).await,
        Err(LinkIdentityError::DuplicateIdentity)
    ));
    assert!(matches!(
        repo.link_identity(a.id, b_new.identity.clone(), T0).await,
        Err(LinkIdentityError::DuplicateIdentity)
    ));
    assert!(matches!(
        repo.link_identity(
            crate::AccountId::new(i64::MAX),
            identity("https://x.example"),
            T0
        )
        .await,
        Err(LinkIdentityError::NotFound)
    ));
    repo.withdraw(b.id, T0).await.unwrap();
    assert!(matches!(
        repo.link_identity(b.id, identity("https://x.example"), T0)
            .await,
        Err(LinkIdentityError::NotFound)
    ));
}

async fn accounts_update(repo: &dyn AccountRepository) {
    let a = repo.create(new_account(None, false, T0)).await.unwrap();
    let later = T0 + Duration::milliseconds(1500);
    let key = ObjectKey::parse("profiles/1/abc.png").unwrap();
    let mut roles = Roles::user();
    roles.insert(Role::Staff);
    let updated = repo
        .update(
            a.id,
            AccountUpdate {
                name: Some(DisplayName::parse("Bob").unwrap()),
                email: Some(Email::parse("bob@example.com").unwrap()),
                email_verified: Some(true),
                gender: Some(Gender::Male),
                birth_date: Some(BirthDate::parse("2000-12-31", T0.date()).unwrap()),
                locale: Some(Locale::parse("en").unwrap()),
                roles: Some(roles.clone()),
                profile_image_key: Some(Some(key.clone())),
                phone: Some(Some(crate::account::Phone::parse("010-1234-5678").unwrap())),
            },
            later,
        )
        .await
        .expect("update");
    assert_eq!(updated.name.as_ref().map(DisplayName::as_str), Some("Bob"));
    assert_eq!(
        updated.email.as_ref().map(Email::as_str),
        Some("bob@example.com")
    );
    assert!(updated.email_verified);
    assert_eq!(updated.gender, Some(Gender::Male));
    assert_eq!(
        updated.birth_date.map(|d| d.to_string()),
        Some("2000-12-31".into())
    );
    assert_eq!(updated.roles, roles);
    assert_eq!(updated.profile_image_key.as_ref(), Some(&key));
    assert_eq!(
        updated.phone.as_ref().map(crate::account::Phone::as_str),
        Some("01012345678")
    );
    assert_eq!(updated.updated_at, later);
    assert_eq!(updated.created_at, T0, "created_at never changes");
    assert_eq!(
        repo.find_by_id(a.id).await.unwrap().as_ref(),
        Some(&updated)
    );

    let unchanged = repo
        .update(a.id, AccountUpdate::default(), later)
        .await
        .expect("empty update");
    assert_eq!(
        unchanged.name, updated.name,
        "an empty update changes nothing"
    );

    let cleared = repo
        .update(
            a.id,
            AccountUpdate {
                profile_image_key: Some(None),
                ..AccountUpdate::default()
            },
            later,
        )
        .await
        .unwrap();
    assert_eq!(cleared.profile_image_key, None);
    assert_eq!(cleared.name, updated.name, "only named fields change");

    assert!(matches!(
        repo.update(
            crate::AccountId::new(i64::MAX),
            AccountUpdate::default(),
            later
        )
        .await,
        Err(UpdateAccountError::NotFound)
    ));
}

async fn accounts_withdraw(repo: &dyn AccountRepository) {
    let new = new_account(Some(&unique_email()), true, T0);
    let a = repo.create(new.clone()).await.unwrap();
    repo.update(
        a.id,
        AccountUpdate {
            profile_image_key: Some(Some(ObjectKey::parse("profiles/9/x.png").unwrap())),
            phone: Some(Some(crate::account::Phone::parse("+821012345678").unwrap())),
            ..AccountUpdate::default()
        },
        T0,
    )
    .await
    .unwrap();
    let at = T0 + Duration::days(1);
    repo.withdraw(a.id, at).await.expect("withdraw");

    let gone = repo
        .find_by_id(a.id)
        .await
        .unwrap()
        .expect("the row is kept");
    assert_eq!(gone.withdrawn_at, Some(at));
    assert_eq!(gone.name, None);
    assert_eq!(gone.email, None);
    assert!(!gone.email_verified);
    assert_eq!(gone.gender, None);
    assert_eq!(gone.birth_date, None);
    assert_eq!(gone.locale, None);
    assert_eq!(gone.profile_image_key, None);
    assert_eq!(gone.phone, None, "the phone number is erased");
    assert_eq!(
        repo.find_by_identity(&new.identity).await.unwrap(),
        None,
        "identities are erased"
    );
    assert!(matches!(
        repo.withdraw(a.id, at).await,
        Err(UpdateAccountError::NotFound)
    ));
    assert!(matches!(
        repo.update(a.id, AccountUpdate::default(), at).await,
        Err(UpdateAccountError::NotFound)
    ));

    // The same person logging in again gets a new account, never the old id.
    let again = repo.create(new).await.expect("the identity is free again");
    assert!(again.id > a.id);
}

fn new_session(account: crate::AccountId, at: OffsetDateTime) -> (SessionToken, NewSession) {
    let token = SessionToken::generate();
    let new = NewSession {
        id: SessionId::random(),
        account_id: account,
        token_hash: token.hash(),
        created_at: at,
        idle_expires_at: at + Duration::hours(1),
        absolute_expires_at: at + Duration::days(1),
        user_agent: Some("conformance/1.0".into()),
        ip: Some("127.0.0.1".into()),
    };
    (token, new)
}

/// Runs every session-repository case. Sessions belong to accounts, so the account
/// repository of the same store is needed to make some.
pub async fn session_repository(accounts: &dyn AccountRepository, repo: &dyn SessionRepository) {
    let account = accounts
        .create(new_account(None, false, T0))
        .await
        .unwrap()
        .id;
    let other = accounts
        .create(new_account(None, false, T0))
        .await
        .unwrap()
        .id;
    sessions_round_trip(repo, account).await;
    sessions_expiry(repo, account).await;
    sessions_touch(repo, account).await;
    sessions_revoke(repo, account, other).await;
    sessions_revoke_all_and_list(repo, account, other).await;
}

async fn sessions_round_trip(repo: &dyn SessionRepository, account: crate::AccountId) {
    let (token, new) = new_session(account, T0);
    let stored = repo.insert(new.clone()).await.expect("insert");
    assert_eq!(stored.id, new.id);
    assert_eq!(stored.account_id, account);
    assert_eq!(stored.created_at, T0);
    assert_eq!(stored.last_seen_at, T0);
    assert_eq!(stored.idle_expires_at, new.idle_expires_at);
    assert_eq!(stored.absolute_expires_at, new.absolute_expires_at);
    assert_eq!(stored.revoked_at, None);
    assert_eq!(stored.user_agent.as_deref(), Some("conformance/1.0"));
    assert_eq!(stored.ip.as_deref(), Some("127.0.0.1"));
    let found = repo
        .find_active_by_token_hash(&token.hash(), T0 + Duration::seconds(1))
        .await
        .expect("find")
        .expect("the session is active");
    assert_eq!(found.0, stored);
    assert_eq!(found.1.id, account, "the session comes with its account");
    assert_eq!(found.1.roles, crate::Roles::user());
    let stranger = SessionToken::generate();
    assert_eq!(
        repo.find_active_by_token_hash(&stranger.hash(), T0)
            .await
            .unwrap(),
        None
    );
}

async fn sessions_expiry(repo: &dyn SessionRepository, account: crate::AccountId) {
    let (token, new) = new_session(account, T0);
    repo.insert(new.clone()).await.unwrap();
    let h = token.hash();
    let just_before_idle = new.idle_expires_at - Duration::microseconds(1);
    assert!(
        repo.find_active_by_token_hash(&h, just_before_idle)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        repo.find_active_by_token_hash(&h, new.idle_expires_at)
            .await
            .unwrap(),
        None,
        "a session is dead at its idle expiry"
    );
    // A whole second later compares correctly with a fractional expiry.
    assert_eq!(
        repo.find_active_by_token_hash(&h, T0 + Duration::hours(2))
            .await
            .unwrap(),
        None
    );

    // The absolute expiry binds even when the idle one is later.
    let (token, mut new) = new_session(account, T0);
    new.idle_expires_at = T0 + Duration::days(3);
    new.absolute_expires_at = T0 + Duration::milliseconds(500);
    repo.insert(new).await.unwrap();
    assert!(
        repo.find_active_by_token_hash(&token.hash(), T0 + Duration::milliseconds(499))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        repo.find_active_by_token_hash(&token.hash(), T0 + Duration::seconds(1))
            .await
            .unwrap(),
        None,
        "a session is dead at its absolute expiry"
    );
}

async fn sessions_touch(repo: &dyn SessionRepository, account: crate::AccountId) {
    let (token, new) = new_session(account, T0);
    repo.insert(new.clone()).await.unwrap();
    let later = T0 + Duration::minutes(50);
    let new_idle = later + Duration::hours(1);
    repo.touch(new.id, later, new_idle).await.expect("touch");
    let after_old_idle = new.idle_expires_at + Duration::minutes(1);
    let found = repo
        .find_active_by_token_hash(&token.hash(), after_old_idle)
        .await
        .unwrap()
        .expect("a touched session lives past its old idle expiry")
        .0;
    assert_eq!(found.last_seen_at, later);
    assert_eq!(found.idle_expires_at, new_idle);

    repo.touch(SessionId::random(), later, new_idle)
        .await
        .expect("touching an unknown session is a no-op");
}

async fn sessions_revoke(
    repo: &dyn SessionRepository,
    account: crate::AccountId,
    other: crate::AccountId,
) {
    let (token, new) = new_session(account, T0);
    repo.insert(new.clone()).await.unwrap();
    assert!(
        !repo.revoke(other, new.id, T0).await.unwrap(),
        "nobody revokes someone else's session"
    );
    assert!(
        repo.find_active_by_token_hash(&token.hash(), T0)
            .await
            .unwrap()
            .is_some()
    );
    assert!(repo.revoke(account, new.id, T0).await.expect("revoke"));
    assert_eq!(
        repo.find_active_by_token_hash(&token.hash(), T0)
            .await
            .unwrap(),
        None
    );
    assert!(
        !repo.revoke(account, new.id, T0).await.unwrap(),
        "revoking twice is false"
    );
    assert!(!repo.revoke(account, SessionId::random(), T0).await.unwrap());

    repo.touch(new.id, T0 + Duration::minutes(1), T0 + Duration::hours(5))
        .await
        .unwrap();
    assert_eq!(
        repo.find_active_by_token_hash(&token.hash(), T0 + Duration::minutes(2))
            .await
            .unwrap(),
        None,
        "touch never brings a revoked session back"
    );
}

async fn sessions_revoke_all_and_list(
    repo: &dyn SessionRepository,
    account: crate::AccountId,
    other: crate::AccountId,
) {
    // `account` already holds sessions from earlier cases: start from a clean slate.
    repo.revoke_all(account, T0).await.unwrap();
    let (_, older) = new_session(account, T0);
    let (_, newer) = new_session(account, T0 + Duration::seconds(1));
    let (_, mut expired) = new_session(account, T0);
    expired.idle_expires_at = T0 + Duration::seconds(2);
    let (other_token, theirs) = new_session(other, T0);
    for s in [&older, &newer, &expired, &theirs] {
        repo.insert(s.clone()).await.unwrap();
    }
    let now = T0 + Duration::seconds(10);
    let listed: Vec<_> = repo
        .list_active(account, now)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(
        listed,
        vec![newer.id, older.id],
        "only active sessions, most recently seen first"
    );

    let revoked = repo.revoke_all(account, now).await.expect("revoke_all");
    assert_eq!(
        revoked, 3,
        "every unrevoked session counts, expired ones too"
    );
    assert!(repo.list_active(account, now).await.unwrap().is_empty());
    assert_eq!(repo.revoke_all(account, now).await.unwrap(), 0);
    assert!(
        repo.find_active_by_token_hash(&other_token.hash(), now)
            .await
            .unwrap()
            .is_some(),
        "other accounts' sessions are untouched"
    );
}

fn body(chunks: &[&[u8]]) -> ByteStream {
    let items: Vec<Result<Bytes, std::io::Error>> = chunks
        .iter()
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(stream::iter(items))
}

fn failing_body() -> ByteStream {
    Box::pin(stream::iter(vec![
        Ok(Bytes::from_static(b"partial")),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ]))
}

/// Runs every object-store case below a fresh random prefix.
pub async fn object_store(store: &dyn ObjectStore) {
    store
        .check()
        .await
        .expect("a working store answers its check");
    let base = format!("conformance-{}", unique());
    let key = |k: &str| ObjectKey::parse(&format!("{base}/{k}")).unwrap();
    let prefix = |p: &str| KeyPrefix::parse(&format!("{base}/{p}")).unwrap();

    // Write, head, read.
    let a = key("a/one.png");
    let meta = store
        .put(&a, body(&[b"hello ", b"world"]), "image/png", 1024)
        .await
        .expect("put");
    assert_eq!(meta.key, a);
    assert_eq!(meta.size, 11);
    assert!(
        !meta.etag.is_empty() && !meta.etag.contains('"'),
        "etag without quotes"
    );
    let head = store.head(&a).await.expect("head").expect("exists");
    assert_eq!(head.size, 11);
    assert_eq!(head.etag, meta.etag, "head reports the etag put returned");
    assert_eq!(head.content_type.as_deref(), Some("image/png"));
    assert_eq!(
        store.read_range(&a, 0, 1000, None).await.unwrap(),
        Bytes::from_static(b"hello world")
    );
    assert_eq!(
        store.read_range(&a, 6, 3, None).await.unwrap(),
        Bytes::from_static(b"wor")
    );
    assert_eq!(
        store.read_range(&a, 6, 100, None).await.unwrap(),
        Bytes::from_static(b"world")
    );
    assert!(
        store.read_range(&a, 11, 5, None).await.unwrap().is_empty(),
        "past the end is empty"
    );
    // Only from the version named, when one is.
    assert_eq!(
        store
            .read_range(&a, 6, 3, Some(meta.etag.clone()))
            .await
            .unwrap(),
        Bytes::from_static(b"wor")
    );
    assert!(matches!(
        store
            .read_range(&a, 6, 3, Some("another-version".into()))
            .await,
        Err(StorageError::PreconditionFailed)
    ));
    // Metadata and the first bytes at once.
    let (m, first) = store.read_head(&a, 5).await.unwrap().expect("exists");
    assert_eq!(
        (m.size, &m.etag),
        (11, &meta.etag),
        "the whole object's size"
    );
    assert_eq!(m.content_type.as_deref(), Some("image/png"));
    assert_eq!(first, Bytes::from_static(b"hello"));
    let (m, all) = store.read_head(&a, 1000).await.unwrap().expect("exists");
    assert_eq!((m.size, all), (11, Bytes::from_static(b"hello world")));
    assert!(
        store
            .read_head(&key("a/none.png"), 10)
            .await
            .unwrap()
            .is_none(),
        "no object: None"
    );
    let empty = key("a/empty.png");
    store
        .put(&empty, body(&[]), "image/png", 1024)
        .await
        .expect("put an empty object");
    let (m, none) = store.read_head(&empty, 10).await.unwrap().expect("exists");
    assert_eq!(
        (m.size, none.len()),
        (0, 0),
        "an empty object reads as empty"
    );
    store.delete(&empty).await.unwrap();

    // Replace.
    let replaced = store
        .put(&a, body(&[b"bye"]), "image/gif", 1024)
        .await
        .expect("replace");
    assert_eq!(replaced.size, 3);
    assert_ne!(replaced.etag, meta.etag, "other bytes, other etag");
    let head = store.head(&a).await.unwrap().unwrap();
    assert_eq!(
        (head.size, head.content_type.as_deref()),
        (3, Some("image/gif"))
    );

    // Limits and broken bodies store nothing and keep what was there.
    assert!(matches!(
        store
            .put(&a, body(&[b"0123456789", b"0"]), "image/png", 10)
            .await,
        Err(StorageError::TooLarge { limit: 10 })
    ));
    assert!(matches!(
        store.put(&a, failing_body(), "image/png", 1024).await,
        Err(StorageError::BodyInterrupted(_))
    ));
    assert_eq!(
        store.read_range(&a, 0, 100, None).await.unwrap(),
        Bytes::from_static(b"bye")
    );
    let fresh = key("never/written.png");
    assert!(
        store
            .put(&fresh, body(&[&[0u8; 20]]), "image/png", 10)
            .await
            .is_err()
    );
    assert_eq!(
        store.head(&fresh).await.unwrap(),
        None,
        "a refused put leaves no object"
    );
    let exact = key("exact.png");
    store
        .put(&exact, body(&[&[1u8; 10]]), "image/png", 10)
        .await
        .expect("a body of exactly max_size is accepted");

    // Missing objects.
    let missing = key("missing.png");
    assert_eq!(store.head(&missing).await.unwrap(), None);
    assert!(matches!(
        store.read_range(&missing, 0, 10, None).await,
        Err(StorageError::NotFound)
    ));
    store
        .delete(&missing)
        .await
        .expect("deleting nothing succeeds");

    // Listing: whole-segment prefixes, key order, paging.
    for k in ["l/b.png", "l/a.png", "l/sub/c.png", "lx/d.png"] {
        store
            .put(&key(k), body(&[b"x"]), "image/png", 10)
            .await
            .unwrap();
    }
    let names = |v: Vec<crate::storage::ObjectMeta>| -> Vec<String> {
        v.into_iter()
            .map(|m| {
                m.key
                    .as_str()
                    .trim_start_matches(&format!("{base}/"))
                    .to_owned()
            })
            .collect()
    };
    let all = store.list(&prefix("l/"), None, 100).await.expect("list");
    assert_eq!(names(all), vec!["l/a.png", "l/b.png", "l/sub/c.png"]);
    let page1 = store.list(&prefix("l/"), None, 2).await.unwrap();
    assert_eq!(names(page1.clone()), vec!["l/a.png", "l/b.png"]);
    let after = page1.last().map(|m| m.key.clone());
    let page2 = store.list(&prefix("l/"), after, 2).await.unwrap();
    assert_eq!(names(page2), vec!["l/sub/c.png"]);
    let listed = store.list(&prefix("l/"), None, 1).await.unwrap();
    assert_eq!(listed[0].size, 1);
    assert!(!listed[0].etag.is_empty());
    assert!(
        store
            .list(&prefix("nothing-here/"), None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Promote: copy only while the ETag still matches, stored as the verified type
    // whatever the PUT said, then remove the source.
    let staged = key("uploads/p.png");
    let final_key = key("final/p.png");
    let staged_meta = store
        .put(
            &staged,
            body(&[b"verified bytes"]),
            "application/octet-stream",
            1024,
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .promote(&staged, &final_key, "not-the-etag", "image/png")
            .await,
        Err(StorageError::PreconditionFailed)
    ));
    assert_eq!(
        store.head(&final_key).await.unwrap(),
        None,
        "a failed promote copies nothing"
    );
    assert!(
        store.head(&staged).await.unwrap().is_some(),
        "and keeps the source"
    );
    let promoted = store
        .promote(&staged, &final_key, &staged_meta.etag, "image/png")
        .await
        .expect("promote");
    assert_eq!(promoted.size, 14);
    assert_eq!(promoted.content_type.as_deref(), Some("image/png"));
    assert_eq!(
        store
            .head(&final_key)
            .await
            .unwrap()
            .and_then(|m| m.content_type)
            .as_deref(),
        Some("image/png"),
        "the object is stored as the verified type"
    );
    assert_eq!(
        store.read_range(&final_key, 0, 100, None).await.unwrap(),
        Bytes::from_static(b"verified bytes")
    );
    assert_eq!(
        store.head(&staged).await.unwrap(),
        None,
        "the source is removed"
    );
    assert!(matches!(
        store
            .promote(&staged, &final_key, &staged_meta.etag, "image/png")
            .await,
        Err(StorageError::NotFound)
    ));

    // Presigned PUTs name exactly the headers to send.
    let presigned = store
        .presign_put(
            &key("uploads/q.png"),
            &crate::storage::PutConditions {
                content_type: Some("image/png".into()),
                content_length: Some(42),
                checksum_sha256: None,
                expires_in: std::time::Duration::from_secs(300),
            },
        )
        .await
        .expect("presign");
    assert!(presigned.url.starts_with("http"), "{}", presigned.url);
    let header = |name: &str| {
        presigned
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("content-type").as_deref(), Some("image/png"));
    assert_eq!(header("content-length").as_deref(), Some("42"));
    // No declared type: the URL names no Content-Type.
    let any = store
        .presign_put(
            &key("uploads/r"),
            &crate::storage::PutConditions {
                content_type: None,
                content_length: None,
                checksum_sha256: None,
                expires_in: std::time::Duration::from_secs(300),
            },
        )
        .await
        .expect("presign");
    assert!(
        !any.headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type")),
        "{:?}",
        any.headers
    );

    // Delete.
    store.delete(&a).await.expect("delete");
    assert_eq!(store.head(&a).await.unwrap(), None);
    assert!(matches!(
        store.read_range(&a, 0, 1, None).await,
        Err(StorageError::NotFound)
    ));

    // Leave nothing behind.
    for m in store
        .list(&prefix(""), None, 1000)
        .await
        .unwrap_or_default()
    {
        let _ = store.delete(&m.key).await;
    }
}

fn flow(expires_at: OffsetDateTime) -> LoginFlow {
    LoginFlow {
        registration_id: RegistrationId::parse("google").unwrap(),
        nonce: format!("nonce-{}", unique()),
        pkce_verifier: format!("verifier-{}", unique()),
        created_at: T0,
        expires_at,
    }
}

fn pending_registration(expires_at: OffsetDateTime) -> PendingRegistration {
    PendingRegistration {
        claims: ProviderClaims {
            identity: identity("https://issuer.example"),
            email: Some("Mixed@Example.com".into()),
            email_verified: true,
            name: None,
            locale: Some("ko-KR".into()),
            gender: Some("FEMALE".into()),
            birth_date: Some("1990-01-02".into()),
        },
        created_at: T0,
        expires_at,
    }
}

/// Runs every login-state case.
pub async fn login_state_repository(repo: &dyn LoginStateRepository) {
    // A flow is taken once, and only before it expires.
    let state = TokenHash::of(&unique());
    let f = flow(T0 + Duration::minutes(10));
    repo.save_flow(state, f.clone()).await.expect("save_flow");
    assert_eq!(
        repo.take_flow(&state, T0 + Duration::minutes(1))
            .await
            .expect("take"),
        Some(f),
        "a flow comes back as saved"
    );
    assert_eq!(
        repo.take_flow(&state, T0 + Duration::minutes(1))
            .await
            .unwrap(),
        None,
        "a flow is single-use"
    );
    assert_eq!(
        repo.take_flow(&TokenHash::of("unknown"), T0).await.unwrap(),
        None
    );
    let late = TokenHash::of(&unique());
    repo.save_flow(late, flow(T0 + Duration::seconds(5)))
        .await
        .unwrap();
    assert_eq!(
        repo.take_flow(&late, T0 + Duration::seconds(5))
            .await
            .unwrap(),
        None,
        "an expired flow is refused"
    );

    // Pending registrations: found until they expire, deleted once.
    let token = TokenHash::of(&unique());
    let p = pending_registration(T0 + Duration::minutes(30));
    repo.save_pending(token, p.clone())
        .await
        .expect("save_pending");
    assert_eq!(
        repo.find_pending(&token, T0 + Duration::minutes(29))
            .await
            .unwrap(),
        Some(p.clone()),
        "a pending registration comes back as saved"
    );
    assert_eq!(
        repo.find_pending(&token, T0 + Duration::minutes(1))
            .await
            .unwrap(),
        Some(p),
        "finding does not consume"
    );
    assert_eq!(
        repo.find_pending(&token, T0 + Duration::minutes(30))
            .await
            .unwrap(),
        None,
        "an expired registration is not found"
    );
    assert!(repo.delete_pending(&token).await.unwrap());
    assert!(!repo.delete_pending(&token).await.unwrap());

    // Purging removes only what has expired.
    let live_flow = TokenHash::of(&unique());
    let dead_flow = TokenHash::of(&unique());
    let live_pending = TokenHash::of(&unique());
    let dead_pending = TokenHash::of(&unique());
    repo.save_flow(live_flow, flow(T0 + Duration::hours(1)))
        .await
        .unwrap();
    repo.save_flow(dead_flow, flow(T0 + Duration::seconds(1)))
        .await
        .unwrap();
    repo.save_pending(live_pending, pending_registration(T0 + Duration::hours(1)))
        .await
        .unwrap();
    repo.save_pending(
        dead_pending,
        pending_registration(T0 + Duration::seconds(1)),
    )
    .await
    .unwrap();
    let purged = repo
        .purge_expired(T0 + Duration::minutes(1))
        .await
        .expect("purge");
    assert!(purged >= 2, "both expired rows are purged, got {purged}");
    assert!(
        !repo.delete_pending(&dead_pending).await.unwrap(),
        "the expired one is gone"
    );
    assert!(
        repo.find_pending(&live_pending, T0)
            .await
            .unwrap()
            .is_some()
    );
    assert!(repo.take_flow(&live_flow, T0).await.unwrap().is_some());
}

fn new_image(uploader: crate::AccountId, channel: Channel, expires_at: OffsetDateTime) -> NewImage {
    let mut metadata = serde_json::Map::new();
    metadata.insert("message_id".into(), serde_json::json!("m-1"));
    metadata.insert("nested".into(), serde_json::json!({"a": [1, 2]}));
    NewImage {
        key: channel.new_key(uploader, T0, &unique(), Some(ImageType::Png)),
        channel,
        uploader,
        content_type: Some(ImageType::Png),
        declared_length: Some(1234),
        checksum_sha256: Some("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into()),
        original_filename: Some("사진 1.png".into()),
        metadata,
        created_at: T0,
        expires_at,
    }
}

/// Runs every image-repository case. Images belong to accounts, made through the account
/// repository of the same store.
pub async fn image_repository(accounts: &dyn AccountRepository, repo: &dyn ImageRepository) {
    let me = accounts
        .create(new_account(None, false, T0))
        .await
        .unwrap()
        .id;
    let other = accounts
        .create(new_account(None, false, T0))
        .await
        .unwrap()
        .id;

    // Insert and read back.
    let n = new_image(me, Channel::Chat, T0 + Duration::minutes(15));
    let img = repo.insert(n.clone()).await.expect("insert");
    assert_eq!(img.key, n.key);
    assert_eq!(img.status, ImageStatus::Pending);
    assert_eq!(img.uploader, me);
    assert_eq!(img.declared_length, Some(1234));
    assert_eq!(img.metadata, n.metadata, "metadata round-trips");
    assert_eq!(img.original_filename.as_deref(), Some("사진 1.png"));
    assert_eq!(img.checksum_sha256, n.checksum_sha256);
    assert_eq!(img.expires_at, Some(n.expires_at));
    assert_eq!(repo.find_by_key(&n.key).await.unwrap(), Some(img.clone()));
    assert_eq!(
        repo.find_by_key(&ObjectKey::parse("chat/none.png").unwrap())
            .await
            .unwrap(),
        None
    );

    // Ready only from pending, once.
    let ready = ReadyImage {
        content_type: ImageType::Png,
        size: 1000,
        etag: "abc".into(),
        width: 640,
        height: 480,
        confirmed_at: T0 + Duration::seconds(30),
        expires_at: Some(T0 + Duration::days(7)),
    };
    let marked = repo
        .mark_ready(img.id, ready.clone())
        .await
        .expect("mark_ready")
        .expect("it was pending");
    assert!(
        repo.mark_ready(img.id, ready.clone())
            .await
            .unwrap()
            .is_none(),
        "only once"
    );
    let got = repo.find_by_key(&n.key).await.unwrap().unwrap();
    assert_eq!(marked, got, "the record as updated is the one stored");
    assert_eq!(got.status, ImageStatus::Ready);
    assert_eq!(
        (got.size, got.width, got.height),
        (Some(1000), Some(640), Some(480))
    );
    assert_eq!(got.etag.as_deref(), Some("abc"));
    assert_eq!(got.confirmed_at, Some(ready.confirmed_at));
    assert_eq!(got.expires_at, ready.expires_at);

    // Transitions are conditional.
    assert!(
        !repo
            .transition(img.id, ImageStatus::Pending, ImageStatus::Expired, T0)
            .await
            .unwrap()
    );
    assert!(
        repo.transition(img.id, ImageStatus::Ready, ImageStatus::Deleted, T0)
            .await
            .unwrap()
    );
    assert!(
        !repo
            .transition(img.id, ImageStatus::Ready, ImageStatus::Deleted, T0)
            .await
            .unwrap()
    );
    assert_eq!(
        repo.find_by_key(&n.key).await.unwrap().unwrap().status,
        ImageStatus::Deleted
    );
    image_removal_is_recorded_once(repo, me, img.id).await;
    let fresh = || async {
        accounts
            .create(new_account(None, false, T0))
            .await
            .unwrap()
            .id
    };
    upload_limits_count_pending_uploads(repo, fresh().await).await;
    upload_limits_count_the_last_hour(repo, fresh().await).await;
    upload_limits_count_ready_bytes(repo, fresh().await).await;
    upload_limits_hold_under_concurrent_inserts(repo, fresh().await).await;

    // Listing by uploader, channel, status and expiry, oldest first.
    let a = repo
        .insert(new_image(me, Channel::Profile, T0 + Duration::minutes(1)))
        .await
        .unwrap();
    let b = repo
        .insert(new_image(me, Channel::Profile, T0 + Duration::minutes(20)))
        .await
        .unwrap();
    let c = repo
        .insert(new_image(
            other,
            Channel::Profile,
            T0 + Duration::minutes(1),
        ))
        .await
        .unwrap();
    let ids = |v: Vec<crate::image::Image>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
    let mine = repo
        .list(
            ImageFilter {
                uploader: Some(me),
                channel: Some(Channel::Profile),
                status: Some(ImageStatus::Pending),
                expired_at: None,
            },
            10,
        )
        .await
        .expect("list");
    assert_eq!(ids(mine), vec![a.id, b.id]);
    let expired = repo
        .list(
            ImageFilter {
                status: Some(ImageStatus::Pending),
                expired_at: Some(T0 + Duration::minutes(5)),
                ..ImageFilter::default()
            },
            100,
        )
        .await
        .unwrap();
    let expired = ids(expired);
    assert!(
        expired.contains(&a.id) && expired.contains(&c.id),
        "{expired:?}"
    );
    assert!(!expired.contains(&b.id), "not yet expired");
    let limited = repo
        .list(
            ImageFilter {
                uploader: Some(me),
                ..ImageFilter::default()
            },
            1,
        )
        .await
        .unwrap();
    assert_eq!(limited.len(), 1);
}

fn limits(pending: Option<u64>, per_hour: Option<u64>, stored_bytes: Option<u64>) -> UploadLimits {
    UploadLimits {
        pending,
        per_hour,
        stored_bytes,
    }
}

fn limit_of(r: Result<crate::image::Image, InsertImageError>) -> Option<UploadLimit> {
    match r {
        Ok(_) => None,
        Err(InsertImageError::Limit(l)) => Some(l),
        Err(e) => panic!("{e:?}"),
    }
}

async fn upload_limits_count_pending_uploads(repo: &dyn ImageRepository, me: crate::AccountId) {
    {
        let two = limits(Some(2), None, None);
        let new = || new_image(me, Channel::Chat, T0 + Duration::minutes(15));
        let first = repo.insert_within(new(), two).await.expect("first");
        repo.insert_within(new(), two).await.expect("second");
        assert_eq!(
            limit_of(repo.insert_within(new(), two).await),
            Some(UploadLimit::Pending(2))
        );
        assert!(
            repo.transition(first.id, ImageStatus::Pending, ImageStatus::Expired, T0)
                .await
                .unwrap()
        );
        assert_eq!(
            limit_of(repo.insert_within(new(), two).await),
            None,
            "one left"
        );
        assert_eq!(
            limit_of(repo.insert_within(new(), limits(None, None, None)).await),
            None,
            "no limit"
        );
    }
}

async fn upload_limits_count_the_last_hour(repo: &dyn ImageRepository, me: crate::AccountId) {
    {
        let three = limits(None, Some(3), None);
        let at = |t: OffsetDateTime| {
            let mut n = new_image(me, Channel::Chat, t + Duration::minutes(15));
            n.created_at = t;
            n
        };
        // One issued more than an hour before, two within it: whatever became of them.
        repo.insert(at(T0 - Duration::minutes(61))).await.unwrap();
        let recent = repo.insert(at(T0 - Duration::minutes(59))).await.unwrap();
        repo.insert(at(T0 - Duration::minutes(1))).await.unwrap();
        assert!(
            repo.transition(recent.id, ImageStatus::Pending, ImageStatus::Rejected, T0)
                .await
                .unwrap()
        );
        assert_eq!(limit_of(repo.insert_within(at(T0), three).await), None);
        assert_eq!(
            limit_of(repo.insert_within(at(T0), three).await),
            Some(UploadLimit::PerHour(3))
        );
        assert_eq!(
            limit_of(
                repo.insert_within(at(T0 + Duration::minutes(2)), three)
                    .await
            ),
            None,
            "the one issued 59 minutes before T0 left the hour"
        );
    }
}

async fn upload_limits_count_ready_bytes(repo: &dyn ImageRepository, me: crate::AccountId) {
    {
        let img = repo
            .insert(new_image(me, Channel::Chat, T0 + Duration::minutes(15)))
            .await
            .unwrap();
        let ready = ReadyImage {
            content_type: ImageType::Png,
            size: 1000,
            etag: "e".into(),
            width: 1,
            height: 1,
            confirmed_at: T0,
            expires_at: None,
        };
        repo.mark_ready(img.id, ready).await.unwrap().unwrap();
        let new = || new_image(me, Channel::Chat, T0 + Duration::minutes(15)); // declares 1234
        assert_eq!(
            limit_of(
                repo.insert_within(new(), limits(None, None, Some(1000)))
                    .await
            ),
            Some(UploadLimit::Quota {
                bytes: 1000,
                declared: false
            })
        );
        assert_eq!(
            limit_of(
                repo.insert_within(new(), limits(None, None, Some(2000)))
                    .await
            ),
            Some(UploadLimit::Quota {
                bytes: 2000,
                declared: true
            })
        );
        assert_eq!(
            limit_of(
                repo.insert_within(new(), limits(None, None, Some(2234)))
                    .await
            ),
            None,
            "pending uploads count for nothing until they are ready"
        );
    }
}

async fn upload_limits_hold_under_concurrent_inserts(
    repo: &dyn ImageRepository,
    me: crate::AccountId,
) {
    {
        let three = limits(Some(3), None, None);
        let tries = (0..12).map(|_| {
            repo.insert_within(
                new_image(me, Channel::Chat, T0 + Duration::minutes(15)),
                three,
            )
        });
        let outcomes = futures_util::future::join_all(tries).await;
        let issued = outcomes
            .into_iter()
            .filter_map(|r| limit_of(r).is_none().then_some(()))
            .count();
        assert_eq!(issued, 3, "counted and inserted one at a time");
    }
}

/// A record that stopped being live awaits the removal of its objects until that is
/// recorded, once; a live record never awaits it.
async fn image_removal_is_recorded_once(
    repo: &dyn ImageRepository,
    me: crate::AccountId,
    deleted: crate::ImageId,
) {
    let awaiting = |v: Vec<crate::image::Image>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
    let live = repo
        .insert(new_image(me, Channel::Chat, T0 + Duration::minutes(15)))
        .await
        .unwrap();
    let rejected = repo
        .insert(new_image(me, Channel::Chat, T0 + Duration::minutes(15)))
        .await
        .unwrap();
    assert!(
        repo.transition(rejected.id, ImageStatus::Pending, ImageStatus::Rejected, T0)
            .await
            .unwrap()
    );
    let before = awaiting(repo.awaiting_removal(10_000).await.expect("awaiting"));
    assert!(
        before.contains(&deleted) && before.contains(&rejected.id),
        "{before:?}"
    );
    assert!(
        !before.contains(&live.id),
        "a pending record's objects stay"
    );
    assert!(
        !repo.mark_objects_removed(live.id, T0).await.unwrap(),
        "never for a live record"
    );
    assert!(repo.mark_objects_removed(deleted, T0).await.unwrap());
    assert!(
        !repo.mark_objects_removed(deleted, T0).await.unwrap(),
        "once"
    );
    let after = awaiting(repo.awaiting_removal(10_000).await.unwrap());
    assert!(
        !after.contains(&deleted) && after.contains(&rejected.id),
        "{after:?}"
    );
    assert!(repo.mark_objects_removed(rejected.id, T0).await.unwrap());
    assert!(
        repo.awaiting_removal(1).await.unwrap().len() <= 1,
        "limited"
    );
    // The live record stops being live (it expires): now its objects await removal.
    assert!(
        repo.transition(live.id, ImageStatus::Pending, ImageStatus::Expired, T0)
            .await
            .unwrap()
    );
    assert!(awaiting(repo.awaiting_removal(10_000).await.unwrap()).contains(&live.id));
    assert!(repo.mark_objects_removed(live.id, T0).await.unwrap());
}

/// Runs every outbox case on a fresh topic.
pub async fn outbox(repo: &dyn Outbox) {
    let topic = format!("conformance.{}", unique());
    let other = format!("conformance.{}", unique());
    let lease = Duration::minutes(5);
    let a = repo
        .enqueue(&topic, serde_json::json!({"key": "a.png", "n": 1}), T0)
        .await
        .expect("enqueue");
    let b = repo
        .enqueue(&topic, serde_json::json!({"key": "b.png"}), T0)
        .await
        .unwrap();
    let later = repo
        .enqueue(
            &topic,
            serde_json::json!({"key": "later.png"}),
            T0 + Duration::hours(1),
        )
        .await
        .unwrap();
    repo.enqueue(&other, serde_json::json!({}), T0)
        .await
        .unwrap();
    assert_eq!(repo.depth(&topic).await.unwrap(), 3);

    // Due jobs, oldest first, leased, attempts counted; others wait for their time.
    let jobs = repo.claim(&topic, T0, lease, 10).await.expect("claim");
    assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), vec![a, b]);
    assert_eq!(jobs[0].payload, serde_json::json!({"key": "a.png", "n": 1}));
    assert_eq!(jobs[0].attempts, 1);
    assert_eq!(jobs[0].topic, topic);
    assert_eq!(jobs[0].batch, None, "not sent yet");
    repo.stamp(&[a, b], "batch-1").await.expect("stamp");
    assert!(
        repo.claim(&topic, T0 + Duration::minutes(1), lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased jobs are not taken twice"
    );

    // Delivered jobs are gone for good; a lapsed lease frees the other.
    repo.complete(a, T0).await.expect("complete");
    let again = repo
        .claim(&topic, T0 + Duration::minutes(6), lease, 10)
        .await
        .unwrap();
    assert_eq!(
        again.iter().map(|j| (j.id, j.attempts)).collect::<Vec<_>>(),
        vec![(b, 2)]
    );
    assert_eq!(
        again[0].batch.as_deref(),
        Some("batch-1"),
        "taken again, it keeps the batch it was sent in"
    );

    // Retry waits for its time; fail stops for good.
    repo.retry(b, "provider said no", T0 + Duration::minutes(30))
        .await
        .expect("retry");
    assert!(
        repo.claim(&topic, T0 + Duration::minutes(29), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = repo
        .claim(&topic, T0 + Duration::minutes(30), lease, 10)
        .await
        .unwrap();
    assert_eq!(due.iter().map(|j| j.id).collect::<Vec<_>>(), vec![b]);
    repo.fail(b, "gave up", T0 + Duration::minutes(31))
        .await
        .expect("fail");
    assert!(
        repo.claim(&topic, T0 + Duration::hours(2), lease, 10)
            .await
            .unwrap()
            .iter()
            .all(|j| j.id == later)
    );
    assert_eq!(
        repo.depth(&topic).await.unwrap(),
        1,
        "only the later job is left"
    );
    assert_eq!(repo.depth(&other).await.unwrap(), 1, "topics are separate");

    // Concurrent workers never take the same job.
    let busy = format!("conformance.{}", unique());
    for i in 0..20 {
        repo.enqueue(&busy, serde_json::json!({"i": i}), T0)
            .await
            .unwrap();
    }
    let (x, y) = tokio::join!(
        repo.claim(&busy, T0, lease, 15),
        repo.claim(&busy, T0, lease, 15)
    );
    let mut ids: Vec<i64> = x
        .unwrap()
        .into_iter()
        .chain(y.unwrap())
        .map(|j| j.id)
        .collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "a job was claimed twice");
    assert!(n >= 15, "the two workers took {n} of 20");

    // Skipped jobs are done, with their reason kept.
    let skipped = format!("conformance.{}", unique());
    let s = repo
        .enqueue(&skipped, serde_json::json!({}), T0)
        .await
        .unwrap();
    repo.claim(&skipped, T0, lease, 10).await.unwrap();
    repo.skip(s, "no phone number", T0).await.expect("skip");
    assert_eq!(repo.depth(&skipped).await.unwrap(), 0);
    assert!(
        repo.claim(&skipped, T0 + Duration::hours(1), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

fn new_report(reporter: crate::AccountId, target: ReportTarget, at: OffsetDateTime) -> NewReport {
    NewReport {
        reporter,
        category: ReportCategoryId::new(2),
        target,
        reason: ReportReason::parse("욕설이 심합니다").unwrap(),
        evidence: vec![ObjectKey::parse("report/2026/11/23/1/a.png").unwrap()],
        created_at: at,
    }
}

/// Runs every report-repository case; the outbox of the same store checks that notices are
/// written with their reports.
pub async fn report_repository(
    accounts: &dyn AccountRepository,
    repo: &dyn ReportRepository,
    outbox: &dyn Outbox,
) {
    let cats = repo.categories().await.expect("categories");
    let codes: Vec<&str> = cats.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(
        codes,
        vec![
            "fraud",
            "abusive_language",
            "prohibited_item",
            "offensive_content",
            "spam",
            "other"
        ]
    );
    assert!(
        cats.iter()
            .all(|c| !c.label_ko.is_empty() && !c.label_en.is_empty())
    );

    let me = accounts
        .create(new_account(None, false, T0))
        .await
        .unwrap()
        .id;
    let other = accounts
        .create(new_account(None, false, T0))
        .await
        .unwrap()
        .id;
    let room = ReportTarget::ChatRoom(i64::from(uuid::Uuid::new_v4().as_u128() as u32));
    let topic = "conformance.notify";

    // Create: the report, its audit entry and its notice, together.
    let before = outbox.depth(topic).await.unwrap();
    let r = repo
        .create(
            new_report(me, room, T0),
            vec![Enqueue {
                topic: "conformance.notify",
                payload: serde_json::json!({"kind": "received"}),
            }],
        )
        .await
        .expect("create");
    assert_eq!(r.status, ReportStatus::Open);
    assert_eq!(r.target, room);
    assert_eq!(r.evidence.len(), 1);
    assert_eq!(r.created_at, T0);
    assert_eq!(repo.find(r.id).await.unwrap(), Some(r.clone()));
    assert_eq!(
        outbox.depth(topic).await.unwrap(),
        before + 1,
        "the notice is written with the report"
    );
    let job = outbox
        .claim(topic, T0 + Duration::days(400), Duration::minutes(1), 100)
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.payload["report_id"] == serde_json::json!(r.id.get()))
        .expect("the job names the report");
    assert_eq!(job.payload["kind"], "received");
    outbox.complete(job.id, T0).await.unwrap();
    let trail = repo.events(r.id).await.unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!((trail[0].action.as_str(), trail[0].actor), ("create", me));

    // One open report per reporter and target; others may report it too.
    match repo.create(new_report(me, room, T0), vec![]).await {
        Err(CreateReportError::DuplicateOpen) => {}
        other => panic!("a second open report must be DuplicateOpen, got {other:?}"),
    }
    let theirs = repo
        .create(new_report(other, room, T0 + Duration::seconds(1)), vec![])
        .await
        .unwrap();

    // Moderation: conditional on the status, audited.
    let resolve = ReportChange {
        status: ReportStatus::Resolved,
        assignee: Some(other),
        resolution_note: Some("warned".into()),
        event: ReportEvent {
            actor: other,
            action: "resolve".into(),
            from_status: Some(ReportStatus::Open),
            to_status: ReportStatus::Resolved,
            note: Some("warned".into()),
            at: T0 + Duration::minutes(5),
        },
    };
    let done = repo
        .update(r.id, ReportStatus::Open, resolve.clone(), vec![])
        .await
        .unwrap()
        .expect("updated");
    assert_eq!(done.status, ReportStatus::Resolved);
    assert_eq!(done.assignee, Some(other));
    assert_eq!(done.resolution_note.as_deref(), Some("warned"));
    assert_eq!(done.updated_at, T0 + Duration::minutes(5));
    assert_eq!(
        repo.update(r.id, ReportStatus::Open, resolve, vec![])
            .await
            .unwrap(),
        None,
        "not open any more"
    );
    let trail = repo.events(r.id).await.unwrap();
    assert_eq!(
        trail.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        vec!["create", "resolve"]
    );
    assert_eq!(trail[1].note.as_deref(), Some("warned"));
    assert_eq!(trail[1].from_status, Some(ReportStatus::Open));

    // Resolved: the reporter may report the target again; reopening the old one then
    // would make two open reports, and is refused.
    let again = repo
        .create(new_report(me, room, T0 + Duration::minutes(10)), vec![])
        .await
        .expect("a new report");
    let reopen = ReportChange {
        status: ReportStatus::Open,
        assignee: None,
        resolution_note: None,
        event: ReportEvent {
            actor: other,
            action: "reopen".into(),
            from_status: Some(ReportStatus::Resolved),
            to_status: ReportStatus::Open,
            note: None,
            at: T0 + Duration::minutes(11),
        },
    };
    assert_eq!(
        repo.update(r.id, ReportStatus::Resolved, reopen, vec![])
            .await
            .unwrap(),
        None
    );

    // Listing: filters, newest first, pages and totals.
    let page = |n, s| Page::parse(Some(n), Some(s)).unwrap();
    let (mine, total) = repo
        .list(
            ReportFilter {
                reporter: Some(me),
                ..ReportFilter::default()
            },
            page(0, 10),
        )
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(
        mine.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![again.id, r.id],
        "newest first"
    );
    let (first, total) = repo
        .list(
            ReportFilter {
                reporter: Some(me),
                ..ReportFilter::default()
            },
            page(0, 1),
        )
        .await
        .unwrap();
    assert_eq!((first.len(), total), (1, 2));
    let (second, _) = repo
        .list(
            ReportFilter {
                reporter: Some(me),
                ..ReportFilter::default()
            },
            page(1, 1),
        )
        .await
        .unwrap();
    assert_eq!(second[0].id, r.id);
    let (open_on_room, _) = repo
        .list(
            ReportFilter {
                status: Some(ReportStatus::Open),
                target_type: Some(crate::report::TargetType::ChatRoom),
                target_id: Some(room.id()),
                ..ReportFilter::default()
            },
            page(0, 10),
        )
        .await
        .unwrap();
    let ids: Vec<_> = open_on_room.iter().map(|r| r.id).collect();
    assert!(
        ids.contains(&theirs.id) && ids.contains(&again.id) && !ids.contains(&r.id),
        "{ids:?}"
    );
    let (by_category, _) = repo
        .list(
            ReportFilter {
                category: Some(ReportCategoryId::new(6)),
                reporter: Some(me),
                ..ReportFilter::default()
            },
            page(0, 10),
        )
        .await
        .unwrap();
    assert!(by_category.is_empty());

    assert_eq!(repo.count_since(me, T0, 20).await.unwrap(), 2);
    assert_eq!(
        repo.count_since(me, T0 + Duration::minutes(1), 20)
            .await
            .unwrap(),
        1
    );
    // Counting stops at the bound.
    assert_eq!(repo.count_since(me, T0, 1).await.unwrap(), 1);
    assert_eq!(repo.count_since(me, T0, 0).await.unwrap(), 0);
    assert_eq!(repo.count_since(me, T0, u64::MAX).await.unwrap(), 2);
    assert_eq!(
        repo.find(crate::ReportId::new(i64::MAX)).await.unwrap(),
        None
    );
}
