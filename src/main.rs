//! The `concord` command: serve the portal, migrate, and the few operations scripts need.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use concord::accounts::role::Role;
use concord::accounts::{self, NewAccount};
use concord::config::Settings;
use concord::startup;

#[derive(Parser)]
#[command(
    name = "concord",
    version,
    about = "Concord partner portal: affiliates and resellers in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database and serve the portal.
    Serve {
        /// Load a demo program (tiers, an admin, partners) into an empty database and print the demo logins.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create an administrator. Reads the password from standard input when --password is absent.
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: Option<String>,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Periodic jobs (outbox delivery...), which `serve` also runs on its own.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Program API keys for machines (conversion tracking).
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// The hourly rollups dashboards read.
    Analytics {
        #[command(subcommand)]
        command: AnalyticsCommand,
    },
}

#[derive(Subcommand)]
enum AnalyticsCommand {
    /// Recompute the click rollups from the raw clicks that remain, for the days from --from up to and including
    /// --to (YYYY-MM-DD, UTC), or for all of them.
    Rebuild {
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Run one job (or every job, in order) once and print what it did.
    RunOnce { name: Option<String> },
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create a key and print it once; only its hash is stored.
    Create {
        #[arg(long)]
        name: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal())
        // A use case's or job's span logs when it closes, with how long it took (time.busy).
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .init();

    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve { demo } => serve(settings, demo).await,
        Command::Migrate => {
            startup::prepare_database(&settings).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::CreateAdmin {
            email,
            password,
            name,
        } => {
            let password = match password {
                Some(p) => p,
                None => read_password()?,
            };
            let pool = startup::prepare_database(&settings).await?;
            let id = blocking(pool, move |conn| {
                Ok(accounts::create(
                    conn,
                    &NewAccount {
                        email: &email,
                        display_name: &name,
                        password: &password,
                        role: Role::Admin,
                        partner_org_id: None,
                    },
                )?)
            })
            .await?;
            println!("created admin #{id}");
            Ok(())
        }
        Command::Jobs {
            command: JobsCommand::RunOnce { name },
        } => {
            let pool = startup::prepare_database(&settings).await?;
            let payer = concord::payouts::Payer::from_settings(pool.clone(), &settings)?;
            let jobs = concord::platform::jobs::Jobs::new(
                concord::platform::jobs::JobContext::new(pool, settings)?,
                concord::startup::jobs(payer),
            );
            let names: Vec<String> = match name {
                Some(name) => vec![name],
                None => jobs.all().iter().map(|j| j.name.to_string()).collect(),
            };
            for name in names {
                let summary = jobs.run(&name).await?;
                println!(
                    "{name}: {}",
                    if summary.is_empty() {
                        "nothing to do"
                    } else {
                        &summary
                    }
                );
            }
            Ok(())
        }
        Command::Analytics {
            command: AnalyticsCommand::Rebuild { from, to },
        } => {
            if let (Some(from), Some(to)) = (from, to) {
                anyhow::ensure!(from <= to, "--from {from} comes after --to {to}");
            }
            let pool = startup::prepare_database(&settings).await?;
            let (from, to) = (
                from.map(|d| d.and_time(chrono::NaiveTime::MIN)),
                to.map(|d| (d + chrono::Duration::days(1)).and_time(chrono::NaiveTime::MIN)),
            );
            let rows = blocking(pool, move |conn| {
                Ok(concord::affiliate::store::rollups::rebuild_clicks(
                    conn, from, to,
                )?)
            })
            .await?;
            println!("click rollups rebuilt: {rows} hourly rows");
            Ok(())
        }
        Command::ApiKey {
            command: ApiKeyCommand::Create { name },
        } => {
            let name = name.trim().to_string();
            anyhow::ensure!(
                !name.is_empty(),
                "--name: give the key a name that says who uses it"
            );
            let pool = startup::prepare_database(&settings).await?;
            let key = format!("ck_{}", concord::platform::auth::token::new_token());
            let (prefix, hash) = (
                key[..11].to_string(),
                concord::platform::auth::token::hash_token(&key),
            );
            blocking(pool, move |conn| {
                Ok(concord::programs::api_keys::insert(
                    conn, &name, &prefix, &hash,
                )?)
            })
            .await?;
            println!("{key}");
            eprintln!("Store this key now: it is not shown again.");
            Ok(())
        }
    }
}

async fn serve(settings: Settings, demo: bool) -> anyhow::Result<()> {
    if demo {
        let pool = startup::prepare_database(&settings).await?;
        match blocking(pool, concord::demo::load).await? {
            Some(logins) => {
                println!(
                    "Demo data loaded. Sign in at {}/login with:",
                    settings.base_url
                );
                for login in logins {
                    println!(
                        "  {:<24} {:<32} password {}",
                        login.role, login.email, login.password
                    );
                }
            }
            None => println!("The database already has data; demo data was not loaded."),
        }
    }
    let app = startup::build(settings).await?;
    if let Some(url) = &app.setup_url {
        tracing::warn!("No admin yet. Create the first one at {url}");
    }
    tracing::info!(
        "Concord is listening on port {} ({})",
        app.port,
        app.base_url
    );
    app.run_until_stopped().await?;
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        eprint!("Password for the new admin: ");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    anyhow::ensure!(
        !password.is_empty(),
        "no password given: pass --password or write it to standard input"
    );
    Ok(password)
}

async fn blocking<T: Send + 'static>(
    pool: concord::platform::db::DbPool,
    work: impl FnOnce(&mut concord::platform::db::DbConn) -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get()?;
        work(&mut conn)
    })
    .await?
}
