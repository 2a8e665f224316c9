//! Building the application: adapters chosen from the configuration, services built on
//! them, routes mounted. `Application::build` binds the listener itself, so tests pass port
//! 0 and ask for the port afterwards.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::{Server, ServerHandle};
use actix_web::http::{Method, header};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use domain::services::notifications::Notifications;
use domain::services::reports::{ReportPolicy, Reports};
use domain::services::{
    Accounts, AuditTrail, Delivery, EventDelivery, Exports, Images, Login, LoginPolicy, Media,
    Sessions, Sweeper,
};
use domain::{Cached, Clock, IdentityProvider, ReadCaches, Repositories, SystemClock};
use identity_oidc::{DevProvider, OidcProvider};
use store_sql::SqlStore;

use crate::adapters::{Storage, connect_database, event_publisher, notifier, open_storage};
use crate::config::{AppEnv, Config, public_origin};
use crate::credentials::{CookiePolicy, ServiceTokens};
use crate::probes::Probes;
use crate::ratelimit::{ClientAddr, RateLimiter};
use crate::routes::local_store::LocalEndpoints;
use crate::state::AppState;
use crate::workers::{WorkerSet, Workers};
use crate::{extractors, middleware, routes};

/// A built, bound, not yet running service.
pub struct Application {
    port: u16,
    server: Server,
    db: SqlStore,
    /// Background work, stopped with the server.
    workers: Workers,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Checks the configuration, connects and migrates the database, opens the object
    /// store, and binds the listener.
    ///
    /// # Errors
    /// An unsafe configuration (every problem listed), an unreachable database, a failed
    /// migration, an unusable data directory, or an address already in use.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let problems = config.problems();
        if !problems.is_empty() {
            anyhow::bail!(
                "refusing to start ({:?}):\n  - {}",
                config.app_env,
                problems.join("\n  - ")
            );
        }
        let db = connect_database(&config).await?;
        if config.database.migrate_on_start {
            db.migrate().await.context("database migration failed")?;
        }
        let listener = TcpListener::bind(config.http.bind_addr)
            .with_context(|| format!("cannot listen on {}", config.http.bind_addr))?;
        let bound: SocketAddr = listener.local_addr()?;
        let public_url = config.http.public_url(bound);
        let storage = open_storage(&config, &public_url, Arc::new(db.clone())).await?;
        let metrics = Arc::new(crate::metrics::Metrics::new().context("metrics registry")?);
        let services = Services::build(&config, &db, &storage, &public_url, &metrics)?;
        // The service's own origin is always allowed: browsers send Origin on same-origin
        // POSTs too.
        let mut origins = config.http.parsed_cors_origins().unwrap_or_default();
        origins.extend(public_origin(&public_url));
        let images = services.images.clone();
        let (events, notifications) = (services.events.clone(), services.notifications.clone());
        let state = web::Data::new(app_state(
            &config,
            services,
            metrics.clone(),
            origins.clone(),
        ));
        let probes = web::Data::new(Probes::new(db.clone(), storage.objects.clone()));
        // The local store's endpoints exist only when it is the store.
        let local = storage
            .local
            .clone()
            .zip(storage.local_reads.clone())
            .map(|(store, reads)| {
                web::Data::new(LocalEndpoints {
                    store,
                    max_size: config.images.policy().max_size,
                    reads,
                    images: images.clone(),
                })
            });
        let server = http_server(&config, listener, state, probes, local, origins)?;
        tracing::info!(
            address = %bound,
            public_url = %public_url,
            env = ?config.app_env,
            database = ?db.backend(),
            "listening"
        );
        let workers = start_workers(
            &config,
            images,
            storage.invalidations,
            notifications,
            events,
            &metrics,
        );
        Ok(Self {
            port: bound.port(),
            server,
            db,
            workers,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server: `graceful` lets in-flight requests finish first.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped through the handle, then closes the database pool.
    ///
    /// # Errors
    /// The server failed.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.workers.stop();
        self.db.close().await;
        result
    }
}

/// The services, built on the repositories and adapters the configuration names.
struct Services {
    accounts: Accounts,
    sessions: Sessions,
    login: Login,
    dev: Option<Arc<DevProvider>>,
    images: Images,
    reports: Reports,
    audit: AuditTrail,
    events: EventDelivery,
    exports: Exports,
    notifications: Option<Notifications>,
}

impl Services {
    fn build(
        config: &Config,
        db: &SqlStore,
        storage: &Storage,
        public_url: &str,
        metrics: &Arc<crate::metrics::Metrics>,
    ) -> anyhow::Result<Self> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let Stores { direct, cached } = repositories(config, db);
        let repos = cached;
        // Report evidence, an export's images and reports, and a notice's recipient are
        // read from the database itself: they must be what it holds now.
        let for_reports = Repositories {
            images: direct.images.clone(),
            ..repos.clone()
        };
        let for_exports = Repositories {
            images: direct.images.clone(),
            reports: direct.reports.clone(),
            ..repos.clone()
        };
        let sessions = Sessions::new(
            repos.sessions.clone(),
            clock.clone(),
            config.identity.session_policy(),
        );
        let subscriptions = config.events.subscriptions();
        let media = Media {
            store: storage.objects.clone(),
            processor: Arc::new(config.images.processor()),
        };
        let delivery = Delivery {
            cdn: storage.cdn.clone(),
            signer: storage.signer.clone(),
        };
        let images = Images::new(
            &repos,
            media,
            delivery,
            clock.clone(),
            config.images.policy(),
        )
        .with_observer(metrics.clone())
        .with_events(subscriptions.clone());
        let (login, dev) = login(config, &repos, &sessions, &clock, public_url)?;
        let notifications = (config.notify.notify_interval_secs > 0)
            .then(|| -> anyhow::Result<Notifications> {
                Ok(Notifications::new(
                    &direct,
                    notifier(config)?,
                    clock.clone(),
                    config.notify.notify_max_attempts,
                )
                .with_lease(config.notify.outbox_lease()))
            })
            .transpose()?;
        // Events: one outbox job per event and endpoint, written with the change; the
        // worker runs with the notices' pace and leases.
        let events = EventDelivery::new(
            repos.outbox.clone(),
            event_publisher(config)?,
            clock.clone(),
            config.events.event_max_attempts,
            config.notify.outbox_lease(),
        );
        Ok(Self {
            accounts: Accounts::new(&repos, clock.clone()).with_events(subscriptions.clone()),
            sessions,
            login,
            dev,
            images,
            reports: Reports::new(
                &for_reports,
                clock.clone(),
                ReportPolicy {
                    per_day: config.reports_per_day,
                },
            )
            .with_events(subscriptions),
            audit: AuditTrail::new(repos.audit.clone()),
            events,
            exports: Exports::new(&for_exports, clock),
            notifications,
        })
    }
}

/// The repositories, two ways: straight from the database, and with accounts, sessions,
/// images and report categories through the read caches' decorator (hot reads answered
/// from memory, every write made here dropping what the caches hold about it; login
/// states, the audit log and the outbox are never cached). Each service is given one by
/// name in [`Services::build`].
struct Stores {
    direct: Repositories,
    cached: Repositories,
}

fn repositories(config: &Config, db: &SqlStore) -> Stores {
    let cached = Arc::new(Cached::new(
        db.clone(),
        ReadCaches::new(config.cache_policy()),
    ));
    let direct = Repositories::on(&Arc::new(db.clone()));
    Stores {
        cached: Repositories {
            accounts: cached.clone(),
            sessions: cached.clone(),
            images: cached.clone(),
            reports: cached,
            ..direct.clone()
        },
        direct,
    }
}

/// The login service over every configured provider, and the dev provider when
/// `DEV_LOGIN` is on.
fn login(
    config: &Config,
    repos: &Repositories,
    sessions: &Sessions,
    clock: &Arc<dyn Clock>,
    public_url: &str,
) -> anyhow::Result<(Login, Option<Arc<DevProvider>>)> {
    let mut providers: Vec<Arc<dyn IdentityProvider>> = Vec::new();
    for c in &config.identity.oidc {
        let id = c.registration_id.clone();
        let provider =
            OidcProvider::new(c.clone()).map_err(|e| anyhow::anyhow!("OIDC provider {id}: {e}"))?;
        providers.push(Arc::new(provider));
    }
    let dev = config
        .dev_login()
        .then(|| Arc::new(DevProvider::new(public_url)));
    if let Some(dev) = &dev {
        providers.push(dev.clone());
        tracing::warn!("DEV_LOGIN is on: anyone can log in as any e-mail");
    }
    let policy = LoginPolicy {
        admin_emails: config.identity.parsed_admin_emails().unwrap_or_default(),
        ..LoginPolicy::default()
    };
    let login = Login::new(
        providers,
        repos,
        sessions.clone(),
        clock.clone(),
        policy,
        public_url.to_owned(),
    );
    Ok((login, dev))
}

/// What every handler reads.
fn app_state(
    config: &Config,
    s: Services,
    metrics: Arc<crate::metrics::Metrics>,
    allowed_origins: Vec<String>,
) -> AppState {
    let login_policy = LoginPolicy::default();
    AppState {
        accounts: s.accounts,
        sessions: s.sessions,
        login: s.login,
        images: s.images,
        metrics,
        metrics_token: config
            .http
            .metrics_token
            .as_ref()
            .map(|t| secrecy::ExposeSecret::expose_secret(t).to_owned()),
        demo_page: config
            .http
            .demo_page
            .unwrap_or(config.app_env == AppEnv::Dev),
        reports: s.reports,
        audit: s.audit,
        events: s.events,
        exports: s.exports,
        dev: s.dev,
        service_tokens: ServiceTokens::new(
            config.identity.parsed_service_tokens().unwrap_or_default(),
        ),
        cookies: CookiePolicy {
            secure: config.app_env != AppEnv::Dev,
        },
        allowed_origins,
        rate_limiter: RateLimiter::new(
            config.identity.login_rate_limit_per_minute,
            ClientAddr::new(config.http.proxy_hops()),
        ),
        login_flow_ttl: Duration::try_from(login_policy.flow_ttl)
            .unwrap_or(Duration::from_secs(600)),
        registration_ttl: Duration::try_from(login_policy.registration_ttl)
            .unwrap_or(Duration::from_secs(1800)),
        session_cookie_max_age: Duration::from_secs(config.identity.session_absolute_ttl_secs),
        login_success_redirect: config.identity.login_success_redirect.clone(),
    }
}

/// The HTTP server on `listener`, every route mounted, not yet running.
fn http_server(
    config: &Config,
    listener: TcpListener,
    state: web::Data<AppState>,
    probes: web::Data<Probes>,
    local: Option<web::Data<LocalEndpoints>>,
    origins: Vec<String>,
) -> anyhow::Result<Server> {
    let json_limit = config.http.json_body_limit;
    let mut server = HttpServer::new(move || {
        let routes = routes::all();
        let local = local.clone();
        App::new()
            .app_data(state.clone())
            .app_data(probes.clone())
            .app_data(extractors::json_config(json_limit))
            .app_data(extractors::query_config())
            .app_data(extractors::path_config())
            .wrap(cors(&origins))
            .wrap(from_fn(middleware::request_context))
            .configure(|cfg| {
                if let Some(local) = local {
                    cfg.app_data(local);
                }
                routes.mount(cfg);
            })
            .default_service(web::to(routes::not_found))
    })
    .listen(listener)?
    .keep_alive(Duration::from_secs(config.http.http_keep_alive_secs))
    // A connection that has not sent its first request yet is idle too: a client pool
    // may open one and use it only later (actix's default, 5 s, answered it 408).
    .client_request_timeout(Duration::from_secs(config.http.http_keep_alive_secs))
    .disable_signals()
    .shutdown_timeout(config.http.shutdown_timeout().as_secs());
    if let Some(workers) = config.http.http_workers {
        server = server.workers(workers.max(1));
    }
    Ok(server.run())
}

/// CORS for `origins`, with credentials.
fn cors(origins: &[String]) -> Cors {
    origins.iter().fold(
        Cors::default()
            .allowed_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allowed_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                middleware::REQUEST_ID,
                header::HeaderName::from_static("x-amz-checksum-sha256"),
            ])
            .expose_headers([header::ETAG, middleware::REQUEST_ID])
            .supports_credentials()
            .max_age(600),
        |cors, origin| cors.allowed_origin(origin),
    )
}

/// The background workers the configuration turns on.
fn start_workers(
    config: &Config,
    images: Images,
    invalidations: Option<domain::services::invalidations::Invalidations>,
    notifications: Option<Notifications>,
    events: EventDelivery,
    metrics: &Arc<crate::metrics::Metrics>,
) -> Workers {
    let every = Duration::from_secs;
    Workers::start(
        WorkerSet {
            sweeper: (config.images.sweep_interval_secs > 0).then(|| {
                (
                    Sweeper::new(images),
                    every(config.images.sweep_interval_secs),
                )
            }),
            invalidations,
            notifications: notifications
                .map(|n| (n, every(config.notify.notify_interval_secs.max(1)))),
            events: (config.notify.notify_interval_secs > 0)
                .then(|| (events, every(config.notify.notify_interval_secs))),
        },
        metrics,
    )
}
