//! The HomeCall server binary: settings → logging → listen → serve until Ctrl-C or SIGTERM.

use anyhow::Context;
use clap::Parser;
use homecall::config::Config;

/// Log bytes gathered before one write to stdout (when fewer wait, they go at once).
const LOG_BATCH_BYTES: usize = 64 * 1024;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    // Lines go to stdout from a thread of their own, so that no socket task waits on a
    // slow terminal or pipe; past its buffer a line is dropped rather than the hub
    // slowed. That thread writes all the lines waiting in one system call (it flushes
    // once it has drained its queue), not one call a line. The guard flushes what is
    // left when `main` returns.
    let batched = std::io::BufWriter::with_capacity(LOG_BATCH_BYTES, std::io::stdout());
    let (writer, _flush_on_exit) = tracing_appender::non_blocking(batched);
    tracing_subscriber::fmt()
        .with_writer(writer)
        // Colours only on a terminal: a log file or journal gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
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
