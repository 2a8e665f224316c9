//! Real servers for tests: Garage (an S3 implementation that verifies presigned
//! signatures, expiry, signed headers and checksums) and moto (which emulates CloudFront).
//! `./scripts/test` installs both into a cache folder outside the clone and puts them on
//! PATH; each test starts its own on free loopback ports, stopped when dropped. Without
//! them the tests fail loudly, unless `SKIP_S3_TESTS=1` says to skip them knowingly.
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{S3Config, S3Store};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn random_hex(bytes: usize) -> String {
    (0..bytes).map(|_| format!("{:02x}", rand_byte())).collect()
}

fn rand_byte() -> u8 {
    uuid::Uuid::new_v4().as_bytes()[0]
}

fn wait_for_port(port: u16, what: &str) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what} never listened on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn skip(what: &str) -> bool {
    if std::env::var("SKIP_S3_TESTS").as_deref() == Ok("1") {
        eprintln!("SKIP_S3_TESTS=1: skipping a test that needs {what}");
        return true;
    }
    false
}

fn on_path(bin: &str) -> bool {
    Command::new(bin)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A single-node Garage with one bucket.
pub struct Garage {
    pub endpoint: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for Garage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Garage")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Garage {
    /// Starts Garage and waits for its bucket; `None` when S3 tests are knowingly skipped.
    ///
    /// # Panics
    /// When `garage` is not on PATH (run `./scripts/test`), or it does not start.
    pub async fn start() -> Option<Self> {
        if skip("Garage") {
            return None;
        }
        assert!(
            on_path("garage"),
            "garage is not installed: run ./scripts/test (it installs Garage into ~/.cache/airs/tools)"
        );
        let dir = tempfile::tempdir().unwrap();
        let (api, rpc) = (free_port(), free_port());
        let config = dir.path().join("garage.toml");
        std::fs::write(
            &config,
            format!(
                "metadata_dir = \"{m}\"\ndata_dir = \"{d}\"\ndb_engine = \"sqlite\"\nreplication_factor = 1\n\
                 rpc_bind_addr = \"127.0.0.1:{rpc}\"\nrpc_secret = \"{secret}\"\n\n[s3_api]\n\
                 s3_region = \"garage\"\napi_bind_addr = \"127.0.0.1:{api}\"\n",
                m = dir.path().join("meta").display(),
                d = dir.path().join("data").display(),
                secret = random_hex(32),
            ),
        )
        .unwrap();
        let access_key_id = format!("GK{}", random_hex(12));
        let secret_access_key = random_hex(32);
        let bucket = "images".to_owned();
        let child = Command::new("garage")
            .arg("-c")
            .arg(&config)
            .args(["server", "--single-node", "--default-bucket"])
            .env("GARAGE_DEFAULT_ACCESS_KEY", &access_key_id)
            .env("GARAGE_DEFAULT_SECRET_KEY", &secret_access_key)
            .env("GARAGE_DEFAULT_BUCKET", &bucket)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("garage starts");
        wait_for_port(api, "garage");
        let garage = Self {
            endpoint: format!("http://127.0.0.1:{api}"),
            bucket,
            access_key_id,
            secret_access_key,
            child,
            _dir: dir,
        };
        // The bucket and key appear shortly after the port opens.
        let store = garage.store().await;
        let start = Instant::now();
        while domain::ObjectStore::check(&store).await.is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "garage's bucket never appeared"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Some(garage)
    }

    pub fn config(&self) -> S3Config {
        S3Config {
            endpoint: Some(self.endpoint.clone()),
            region: "garage".into(),
            bucket: self.bucket.clone(),
            path_style: true,
            access_key_id: Some(self.access_key_id.clone()),
            secret_access_key: Some(self.secret_access_key.clone()),
            timeout: Duration::from_secs(5),
        }
    }

    pub async fn store(&self) -> S3Store {
        S3Store::new(&self.config()).await
    }

    /// Puts `body` at `key` as another application would: any key S3 allows, ours or not
    /// (`exports/a b.csv`, a console's folder marker `photos/`).
    ///
    /// # Panics
    /// When the put fails.
    pub async fn put_raw(&self, key: &str, body: &[u8]) {
        let store = self.store().await;
        store
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body.to_vec().into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
    }

    /// Whether an object is at `key` (any key S3 allows).
    ///
    /// # Panics
    /// When the store cannot answer.
    pub async fn exists_raw(&self, key: &str) -> bool {
        let store = self.store().await;
        match store
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => true,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => false,
            Err(e) => panic!("head {key}: {e:?}"),
        }
    }

    /// Stops the server (for fault tests); the store answers `Unavailable` afterwards.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        self.stop();
    }
}

/// moto's server, emulating CloudFront.
#[derive(Debug)]
pub struct Moto {
    pub endpoint: String,
    child: Child,
}

impl Moto {
    /// Starts `moto_server`; `None` when S3 tests are knowingly skipped.
    ///
    /// # Panics
    /// When `moto_server` is not on PATH (run `./scripts/test`).
    pub fn start() -> Option<Self> {
        if skip("moto") {
            return None;
        }
        assert!(
            on_path("moto_server"),
            "moto_server is not installed: run ./scripts/test (it installs moto[server] into ~/.cache/airs/tools/venv)"
        );
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        wait_for_port(port, "moto_server");
        Some(Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
        })
    }
}

impl Moto {
    /// Creates a CloudFront distribution and returns its id.
    pub async fn distribution(&self) -> String {
        use aws_sdk_cloudfront::types::{
            DefaultCacheBehavior, DistributionConfig, Origin, Origins, ViewerProtocolPolicy,
        };
        let client = cloudfront_client(&self.endpoint).await;
        let config = DistributionConfig::builder()
            .caller_reference(uuid::Uuid::new_v4().to_string())
            .comment("images")
            .enabled(true)
            .origins(
                Origins::builder()
                    .quantity(1)
                    .items(
                        Origin::builder()
                            .id("s3")
                            .domain_name("images.s3.amazonaws.com")
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .default_cache_behavior(
                DefaultCacheBehavior::builder()
                    .target_origin_id("s3")
                    .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let out = client
            .create_distribution()
            .distribution_config(config)
            .send()
            .await
            .expect("moto creates a distribution");
        out.distribution().unwrap().id().to_owned()
    }

    /// The paths of every invalidation of `distribution`.
    pub async fn invalidated_paths(&self, distribution: &str) -> Vec<String> {
        self.invalidations(distribution)
            .await
            .into_iter()
            .flat_map(|(_, paths)| paths)
            .collect()
    }

    /// Every invalidation of `distribution`: its caller reference and its paths.
    pub async fn invalidations(&self, distribution: &str) -> Vec<(String, Vec<String>)> {
        let client = cloudfront_client(&self.endpoint).await;
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let list = client
                .list_invalidations()
                .distribution_id(distribution)
                .set_marker(marker.clone())
                .max_items(1000)
                .send()
                .await
                .unwrap();
            let Some(page) = list.invalidation_list() else {
                break;
            };
            for item in page.items() {
                let inv = client
                    .get_invalidation()
                    .distribution_id(distribution)
                    .id(item.id())
                    .send()
                    .await
                    .unwrap();
                if let Some(batch) = inv.invalidation().and_then(|i| i.invalidation_batch()) {
                    out.push((
                        batch.caller_reference().to_owned(),
                        batch
                            .paths()
                            .map(|p| p.items().to_vec())
                            .unwrap_or_default(),
                    ));
                }
            }
            match page.next_marker() {
                Some(m) if page.is_truncated() && !m.is_empty() => marker = Some(m.to_owned()),
                _ => break,
            }
        }
        out
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CloudFront client on `endpoint` for tests to set up and inspect distributions.
pub async fn cloudfront_client(endpoint: &str) -> aws_sdk_cloudfront::Client {
    let shared = crate::sdk_config(
        "us-east-1",
        Duration::from_secs(5),
        Some("test"),
        Some("test"),
    )
    .await;
    aws_sdk_cloudfront::Client::from_conf(
        aws_sdk_cloudfront::config::Builder::from(&shared)
            .endpoint_url(endpoint)
            .build(),
    )
}
