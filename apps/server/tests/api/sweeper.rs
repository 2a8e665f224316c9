//! The sweeper deletes only what the database names, on the local store and on Garage: a
//! bucket shared with other applications (and with the old system's images) keeps every
//! object no record names, whatever its key or age, through any number of sweeps; every
//! kind of leftover the service itself made goes.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, SystemTime};

use storage_s3::testing::Garage;

use crate::helpers::{TestApp, spawn_with};
use crate::images::{Issued, PNG};
use crate::s3::use_s3;

/// Objects no record names: the old system's keys in the service's own grammar, another
/// application's files, a folder marker, and a thousand keys that are no object key of
/// ours listed before the staging leftovers (a page of them must not end the sweep).
const FOREIGN: [&str; 5] = [
    "legacy/old-photo.png",
    "chat/2025/11/27/9/Zm9yZWlnbi1jaGF0LWtleQ.png",
    "uploads/chat/2025/11/27/9/c3RhZ2VkLWJ5LW5vYm9keQ.png",
    "profiles/9/b2xkLWF2YXRhcg.jpg",
    "exports/x.csv",
];
const MARKER: &str = "photos/";
const UNPARSEABLE: usize = 1000;

fn unparseable(i: usize) -> String {
    format!("uploads/a b/{i:04}.bin")
}

/// Where the test reads and writes objects behind the service's back.
pub(crate) enum Bucket<'a> {
    Local(PathBuf),
    Garage(&'a Garage),
}

impl Bucket<'_> {
    pub(crate) fn local(app: &TestApp) -> Self {
        Self::Local(app.dir.path().join("objects").join("objects"))
    }

    /// Puts an object as another program would, two days old where the store allows.
    async fn put_foreign(&self, key: &str) {
        match self {
            Self::Local(root) => {
                let path = root.join(key);
                if key.ends_with('/') {
                    std::fs::create_dir_all(&path).unwrap();
                    return;
                }
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                let f = std::fs::File::create(&path).unwrap();
                std::io::Write::write_all(&mut &f, b"not the service's").unwrap();
                f.set_modified(SystemTime::now() - Duration::from_secs(2 * 86_400))
                    .unwrap();
            }
            Self::Garage(g) => g.put_raw(key, b"not the service's").await,
        }
    }

    pub(crate) async fn exists(&self, key: &str) -> bool {
        match self {
            Self::Local(root) => root.join(key).exists(),
            Self::Garage(g) => g.exists_raw(key).await,
        }
    }

    /// `server sweep` as an operator runs it, on the app's database and store.
    pub(crate) fn sweep(&self, app: &TestApp) -> String {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
        cmd.arg("sweep")
            .env("DATA_DIR", app.dir.path())
            .env_remove("DATABASE_URL")
            .env("ORPHAN_GRACE_SECS", "0");
        if let Self::Garage(g) = self {
            let s3 = g.config();
            cmd.env("STORAGE", "s3")
                .env("S3_BUCKET", &s3.bucket)
                .env("S3_REGION", &s3.region)
                .env("S3_ENDPOINT", s3.endpoint.unwrap_or_default())
                .env("S3_PATH_STYLE", "true")
                .env("S3_ACCESS_KEY_ID", s3.access_key_id.unwrap_or_default())
                .env(
                    "S3_SECRET_ACCESS_KEY",
                    s3.secret_access_key.unwrap_or_default(),
                )
                .env("CDN_BASE_URL", "https://cdn.example.com");
        }
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }
}

/// Runs `sql` (an `UPDATE` of one image, `$1` its key) on the app's database, behind the
/// service's back.
pub(crate) async fn alter_image(app: &TestApp, key: &str, sql: &str) {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let db = Database::connect(format!(
        "sqlite://{}?mode=rw",
        app.dir.path().join("service.db").display()
    ))
    .await
    .unwrap();
    let res = db
        .execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [key.into()],
        ))
        .await
        .unwrap();
    assert_eq!(res.rows_affected(), 1, "{sql} {key}");
    db.close().await.unwrap();
}

/// Marks an image deleted in the database as a crash right after the transition would
/// leave it: the record says its object must go, and the object is still there.
async fn crash_after_deleting_the_record(app: &TestApp, key: &str) {
    alter_image(
        app,
        key,
        "UPDATE images SET status = 'deleted' WHERE key = $1",
    )
    .await;
}

async fn confirm(app: &TestApp, user: &crate::helpers::User, issued: &Issued) {
    let put = app.put(issued, PNG.to_vec()).await;
    assert_eq!(put.status(), 200, "{:?}", put.text().await);
    let res = app.callback(user, "chat", &issued.key, "").await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
}

async fn only_what_records_name_is_swept(app: &TestApp, bucket: &Bucket<'_>) {
    let user = app.login("sweeper@example.com").await;
    for key in FOREIGN.into_iter().chain([MARKER]) {
        bucket.put_foreign(key).await;
    }
    let keys: Vec<String> = (0..UNPARSEABLE).map(unparseable).collect();
    for chunk in keys.chunks(50) {
        futures_util::future::join_all(chunk.iter().map(|k| bucket.put_foreign(k))).await;
    }

    // The service's own leftovers: an upload never confirmed (it expires), bytes put again
    // after a confirmation, and an image whose record was deleted by a process that died
    // before it removed the object.
    let never_confirmed = app.issue_png(&user, "chat").await;
    assert_eq!(app.put(&never_confirmed, PNG.to_vec()).await.status(), 200);
    let put_twice = app.issue_png(&user, "chat").await;
    confirm(app, &user, &put_twice).await;
    assert_eq!(app.put(&put_twice, PNG.to_vec()).await.status(), 200);
    let died = app.issue_png(&user, "chat").await;
    confirm(app, &user, &died).await;
    crash_after_deleting_the_record(app, &died.key).await;
    let staged = |k: &str| format!("uploads/{k}");
    let variants = |k: &str| ["thumb", "medium"].map(|v| format!("{k}.{v}.webp"));
    assert!(bucket.exists(&staged(&never_confirmed.key)).await);
    assert!(bucket.exists(&staged(&put_twice.key)).await);
    assert!(bucket.exists(&died.key).await);
    for v in variants(&died.key) {
        assert!(bucket.exists(&v).await, "{v}: confirmation made it");
    }

    // Past the pending TTL (2 s here), three sweeps in a row.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let first = bucket.sweep(app);
    assert!(
        first.contains("expired 1 pending uploads")
            && first.contains("the objects of 2 records (0 failed")
            && first.contains("and 1 staged leftovers"),
        "{first}"
    );
    for _ in 0..2 {
        let again = bucket.sweep(app);
        assert!(
            again.contains("expired 0") && again.contains("the objects of 0 records"),
            "{again}"
        );
    }

    for key in FOREIGN.into_iter().chain([MARKER]) {
        assert!(bucket.exists(key).await, "{key} was deleted");
    }
    for key in [&keys[0], &keys[UNPARSEABLE - 1]] {
        assert!(bucket.exists(key).await, "{key} was deleted");
    }
    for gone in [
        staged(&never_confirmed.key),
        staged(&put_twice.key),
        died.key.clone(),
    ]
    .into_iter()
    .chain(variants(&died.key))
    {
        assert!(!bucket.exists(&gone).await, "{gone} was left behind");
    }
    for kept in std::iter::once(put_twice.key.clone()).chain(variants(&put_twice.key)) {
        assert!(
            bucket.exists(&kept).await,
            "{kept}: the ready image and its variants stay"
        );
    }
    if matches!(bucket, Bucket::Local(_)) {
        let served = app.client.get(&put_twice.cdn_url).send().await.unwrap();
        assert_eq!(served.status(), 200);
    }
}

#[tokio::test]
async fn on_the_local_store_the_sweeper_deletes_only_what_records_name() {
    let app = spawn_with(|c| c.images.pending_upload_ttl_secs = 2).await;
    let bucket = Bucket::local(&app);
    only_what_records_name_is_swept(&app, &bucket).await;
}

#[tokio::test]
async fn on_garage_the_sweeper_deletes_only_what_records_name() {
    let Some(garage) = Garage::start().await else {
        return;
    };
    let s3 = garage.config();
    let app = spawn_with(move |c| {
        use_s3(c, &s3, None);
        c.images.pending_upload_ttl_secs = 2;
    })
    .await;
    let bucket = Bucket::Garage(&garage);
    only_what_records_name_is_swept(&app, &bucket).await;
}
