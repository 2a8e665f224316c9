//! The account repository: accounts, identities, verified e-mails, updates, withdrawal.

use super::*;

/// Runs every account-repository case.
pub async fn account_repository(repo: &dyn AccountRepository) {
    let mut case = Case::new("account_repository");
    case.step("accounts_round_trip");
    accounts_round_trip(repo).await;
    case.step("accounts_identity_is_unique");
    accounts_identity_is_unique(repo).await;
    case.step("accounts_find_by_verified_email");
    accounts_find_by_verified_email(repo).await;
    case.step("accounts_link_identity");
    accounts_link_identity(repo).await;
    case.step("accounts_update");
    accounts_update(repo).await;
    case.step("accounts_withdraw");
    accounts_withdraw(repo).await;
    case.step("accounts_identities_listed_and_unlinked_never_the_last");
    accounts_identities_listed_and_unlinked_never_the_last(repo).await;
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

    repo.withdraw(oldest.id, T0 + Duration::seconds(3), None, vec![])
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
    let kakao_email = Email::parse(&unique_email()).unwrap();
    repo.link_identity(a.id, kakao.clone(), Some(kakao_email.clone()), T0)
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
        repo.link_identity(b.id, kakao.clone(), None, T0).await,
        Err(LinkIdentityError::DuplicateIdentity)
    ));
    assert!(matches!(
        repo.link_identity(a.id, b_new.identity.clone(), None, T0)
            .await,
        Err(LinkIdentityError::DuplicateIdentity)
    ));
    assert!(matches!(
        repo.link_identity(
            crate::AccountId::new(i64::MAX),
            identity("https://x.example"),
            None,
            T0
        )
        .await,
        Err(LinkIdentityError::NotFound)
    ));
    repo.withdraw(b.id, T0, None, vec![]).await.unwrap();
    assert!(matches!(
        repo.link_identity(b.id, identity("https://x.example"), None, T0)
            .await,
        Err(LinkIdentityError::NotFound)
    ));
}

async fn accounts_identities_listed_and_unlinked_never_the_last(repo: &dyn AccountRepository) {
    let email = unique_email();
    let new = new_account(Some(&email), true, T0);
    let a = repo.create(new.clone()).await.unwrap();
    let other = repo.create(new_account(None, false, T0)).await.unwrap();
    let github = identity("https://github.example");
    let github_email = Email::parse(&unique_email()).unwrap();
    repo.link_identity(
        a.id,
        github.clone(),
        Some(github_email.clone()),
        T0 + Duration::seconds(5),
    )
    .await
    .expect("link");

    // Oldest first, each with the e-mail its provider gave.
    let listed = repo.identities(a.id).await.expect("list");
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].identity, new.identity);
    assert_eq!(
        listed[0].email.as_ref().map(Email::as_str),
        Some(email.as_str())
    );
    assert_eq!(listed[0].linked_at, T0);
    assert_eq!(listed[1].identity, github);
    assert_eq!(listed[1].email, Some(github_email));
    assert_eq!(listed[1].linked_at, T0 + Duration::seconds(5));
    assert_ne!(listed[0].id, listed[1].id);

    // Only the account's own, and never the last.
    let theirs = repo.identities(other.id).await.unwrap()[0].id;
    assert!(matches!(
        repo.unlink_identity(a.id, theirs).await,
        Err(crate::error::UnlinkIdentityError::NotFound)
    ));
    repo.unlink_identity(a.id, listed[0].id)
        .await
        .expect("unlink");
    assert_eq!(repo.find_by_identity(&new.identity).await.unwrap(), None);
    assert!(matches!(
        repo.unlink_identity(a.id, listed[1].id).await,
        Err(crate::error::UnlinkIdentityError::LastIdentity)
    ));
    let left = repo.identities(a.id).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].identity, github);
    assert_eq!(
        repo.find_by_identity(&github).await.unwrap().map(|x| x.id),
        Some(a.id)
    );
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
                ..AccountUpdate::default()
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
    repo.withdraw(a.id, at, None, vec![])
        .await
        .expect("withdraw");

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
        repo.withdraw(a.id, at, None, vec![]).await,
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
