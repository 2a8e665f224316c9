//! `server`: run the service (default), `server migrate`, `server openapi`.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser as _;
use server::config::Config;
use server::{
    AccountsCommand, Application, Cli, Command, ServiceTokenCommand, StorageCommand, telemetry,
};

/// glibc's malloc raises its mmap threshold each time a large block is freed, so the tens of
/// megabytes an image decode allocates and frees end up in per-thread arenas and stay
/// resident. A fixed 1 MiB threshold gives large blocks back to the system when they are
/// freed (64 callbacks of 12 MP photos in flight: 180 MB peak RSS without, 117 MB with, for
/// 5 % of the throughput; docs/performance.md). An operator's own `MALLOC_MMAP_THRESHOLD_`
/// or `GLIBC_TUNABLES` wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn return_large_blocks_to_the_system() {
    let set_by_operator = std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some()
        || std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("mmap_threshold"));
    if !set_by_operator {
        // SAFETY: `mallopt` only changes a parameter of the allocator; it is called first
        // thing in `main`, before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_blocks_to_the_system() {}

fn main() -> ExitCode {
    return_large_blocks_to_the_system();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // actix-web's server runs on its own system; the runtime hosts start-up and commands.
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(mut cli: Cli) -> anyhow::Result<()> {
    if let Err(problems) = cli.config.identity.load_oidc(|k| std::env::var(k).ok()) {
        anyhow::bail!("refusing to start:\n  - {}", problems.join("\n  - "));
    }
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::ServiceToken(ServiceTokenCommand::New { name }) => {
            service_token_new(&config, &name).await
        }
        Command::Accounts(AccountsCommand::Grant { email, role }) => {
            accounts_grant(&config, &email, &role).await
        }
        Command::Openapi => {
            println!("{}", server::routes::docs::openapi_document());
            Ok(())
        }
        Command::Sweep => sweep(&config).await,
        Command::Storage(StorageCommand::ApplyLifecycle) => apply_lifecycle(&config).await,
        Command::Migrate => migrate(&config).await,
        Command::Serve => serve(config).await,
    }
}

/// `server service-token new NAME`: a token for a calling service, audited before it is
/// printed.
async fn service_token_new(config: &Config, name: &str) -> anyhow::Result<()> {
    let name = name.trim();
    if name.is_empty() || name.contains([':', ',']) {
        anyhow::bail!("a service name must be non-empty, without ':' or ','");
    }
    // Recorded before the token exists anywhere: a token nobody audited is never
    // printed.
    telemetry::init(config.log_format());
    let db = server::adapters::connect_database(config).await?;
    db.migrate().await?;
    let entry = domain::NewAuditEntry::done(
        time::OffsetDateTime::now_utc(),
        operator(),
        domain::AuditAction::ServiceTokenCreate,
        domain::AuditTarget::Service(name.to_owned()),
        domain::RequestId::none(),
    );
    domain::AuditLog::record(&db, entry).await?;
    db.close().await;
    let (token, entry) = server::auth::ServiceTokens::generate(name);
    println!("token (give it to the service; shown once): {token}");
    println!("SERVICE_TOKENS entry (configure it here):   {entry}");
    Ok(())
}

/// `server accounts grant EMAIL ROLE`: a role for the live account with that verified
/// e-mail, audited as the operator.
async fn accounts_grant(config: &Config, email: &str, role: &str) -> anyhow::Result<()> {
    telemetry::init(config.log_format());
    let email = domain::Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?;
    let role: domain::Role = role
        .to_ascii_uppercase()
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if role == domain::Role::Anonymous {
        anyhow::bail!("ANONYMOUS is what callers without a session are; it cannot be granted");
    }
    let db = server::adapters::connect_database(config).await?;
    db.migrate().await?;
    let repos = domain::Repositories::on(&Arc::new(db.clone()));
    let accounts = domain::services::Accounts::new(&repos, Arc::new(domain::SystemClock));
    let account = accounts
        .grant_role_by_email(&email, role, operator())
        .await
        .map_err(|e| match e {
            domain::services::AccountError::NotFound => {
                anyhow::anyhow!("no live account has the verified e-mail {}", email.as_str())
            }
            other => anyhow::anyhow!("{other}"),
        })?;
    println!(
        "account {} ({}) now has roles {}",
        account.id,
        email.as_str(),
        account.roles.to_csv()
    );
    db.close().await;
    Ok(())
}

/// `server sweep`: one pass of the sweeper, then exit.
async fn sweep(config: &Config) -> anyhow::Result<()> {
    telemetry::init(config.log_format());
    let db = server::adapters::connect_database(config).await?;
    db.migrate().await?;
    let public_url = config.http.public_url(config.http.bind_addr);
    let store = Arc::new(db.clone());
    let storage = server::adapters::open_storage(config, &public_url, store.clone()).await?;
    let images = domain::services::Images::new(
        &domain::Repositories::on(&store),
        domain::services::Media {
            store: storage.objects,
            processor: Arc::new(config.images.processor()),
        },
        domain::services::Delivery {
            cdn: storage.cdn,
            signer: storage.signer,
        },
        Arc::new(domain::SystemClock),
        config.images.policy(),
    );
    let report = domain::services::Sweeper::new(images).sweep().await?;
    println!(
        "expired {} pending uploads, deleted {} images past retention, removed the objects of {} records ({} failed, retried next time) and {} staged leftovers",
        report.expired,
        report.retention_deleted,
        report.objects_removed,
        report.removals_failed,
        report.staged_removed
    );
    db.close().await;
    Ok(())
}

/// `server storage apply-lifecycle`: the bucket's expiry rules, for STORAGE=s3.
async fn apply_lifecycle(config: &Config) -> anyhow::Result<()> {
    let s3 = config.storage.s3().ok_or_else(|| {
        anyhow::anyhow!(
            "lifecycle rules are for STORAGE=s3; the local store is swept by the service"
        )
    })?;
    let store = storage_s3::S3Store::new(&s3).await;
    for (prefix, days) in store.apply_lifecycle().await? {
        println!("{prefix}: objects expire after {days} day(s)");
    }
    Ok(())
}

/// `server migrate`: apply the migrations, then exit.
async fn migrate(config: &Config) -> anyhow::Result<()> {
    telemetry::init(config.log_format());
    let db = server::adapters::connect_database(config).await?;
    db.migrate().await?;
    tracing::info!(database = ?db.backend(), "migrations applied");
    db.close().await;
    Ok(())
}

/// `server` (or `server serve`): run until SIGTERM or SIGINT, then stop gracefully.
async fn serve(config: Config) -> anyhow::Result<()> {
    telemetry::init(config.log_format());
    // Listen for the stop signals before the port opens: a signal that arrives as soon as
    // the port answers still stops gracefully.
    let stop = shutdown_signal()?;
    let app = Application::build(config).await?;
    let handle = app.handle();
    tokio::spawn(async move {
        stop.await;
        tracing::info!("shutting down: finishing in-flight requests");
        handle.stop(true).await;
    });
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

/// The operator at the command line, as audit entries name them: the OS user (`USER`,
/// else `LOGNAME`), or `cli:unknown`.
fn operator() -> domain::AuditActor {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty() && u.len() <= 64 && !u.contains(char::is_control))
        .unwrap_or_else(|| "unknown".to_owned());
    domain::AuditActor::Cli(user)
}

/// SIGTERM (Kubernetes, systemd) or SIGINT (Ctrl-C): both stop gracefully. The handlers
/// are installed when this is called; the future completes on the first signal.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
