//! `server`: run the service (default), `server migrate`, `server openapi`.

use std::process::ExitCode;

use clap::Parser as _;
use server::{Application, Cli, Command, telemetry};

fn main() -> ExitCode {
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

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            println!("{}", server::routes::docs::openapi_document());
            Ok(())
        }
        Command::Migrate => {
            telemetry::init(cli.config.log_format());
            let db = server::startup::connect_database(&cli.config).await?;
            db.migrate().await?;
            tracing::info!(database = ?db.backend(), "migrations applied");
            db.close().await;
            Ok(())
        }
        Command::Serve => {
            telemetry::init(cli.config.log_format());
            let app = Application::build(cli.config).await?;
            let handle = app.handle();
            tokio::spawn(async move {
                shutdown_signal().await;
                tracing::info!("shutting down: finishing in-flight requests");
                handle.stop(true).await;
            });
            app.run_until_stopped().await?;
            tracing::info!("stopped");
            Ok(())
        }
    }
}

/// SIGTERM (Kubernetes, systemd) or SIGINT (Ctrl-C): both stop gracefully.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
