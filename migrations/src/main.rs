//! `migration [up|down|status|fresh]` against `DATABASE_URL`: the schema tool on its own,
//! for operators who migrate outside the service (the service's `server migrate` does the
//! same `up`).

use sea_orm_migration::MigratorTrait;
use sea_orm_migration::sea_orm::Database;

use migration::Migrator;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let command = std::env::args().nth(1).unwrap_or_else(|| "up".to_owned());
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("DATABASE_URL is not set (postgres://… or sqlite://…?mode=rwc)");
        return std::process::ExitCode::from(2);
    };
    let db = match Database::connect(&url).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("cannot connect: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = match command.as_str() {
        "up" => Migrator::up(&db, None).await,
        "down" => Migrator::down(&db, Some(1)).await,
        "status" => Migrator::status(&db).await,
        "fresh" => Migrator::fresh(&db).await,
        other => {
            eprintln!("unknown command {other:?}: use up, down, status or fresh");
            return std::process::ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("migration failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
