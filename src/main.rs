//! The HomeCall server binary: settings → logging → listen → serve until Ctrl-C or SIGTERM.

use anyhow::Context;
use clap::Parser;
use homecall::config::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    // Lines go to stdout from a thread of their own (see `logging::writer`), so that
    // no socket task waits on a slow terminal or pipe. The guard writes what is left
    // when `main` returns.
    let (writer, _flush_on_exit) = homecall::server::logging::writer::spawn(std::io::stdout())
        .context("cannot start the log writer")?;
    tracing_subscriber::fmt()
        .with_writer(writer)
        // Spans' fields are written by the default field format: plain, never coloured.
        .with_ansi(false)
        .event_format(homecall::server::logging::Line)
        .with_env_filter(
            homecall::server::logging::filter(&config.log).context("bad --log filter")?,
        )
        .init();
    config.validate()?;
    let listener = homecall::server::listen::bind(config.listen)
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let scheme = if config.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(address = %config.listen, scheme, "HomeCall is listening");
    homecall::server::serve(listener, config, shutdown_signal()).await?;
    tracing::info!("HomeCall stopped");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
