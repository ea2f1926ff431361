//! The running server as one value: [`Application::build`] opens the vault and the audit
//! witness, reads the connection limits and TLS, and binds the address, all before anything is
//! served; [`Application::run_until`] serves until told to stop, signing checkpoints of the
//! audit log as it grows and once more on the way out. `serve`, the demonstration and the
//! in-process tests all start the server through it.

use crate::commands::{open_vault, serve_options, witness_of};
use crate::settings::Settings;
use anyhow::{bail, Context, Result};
use rempart_server::ServeOptions;
use rempart_vault::{Vault, Witness};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A server ready to run: its vault open, its witness checked, its address bound.
pub struct Application {
    runtime: tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    vault: Arc<Vault>,
    witness: Witness,
    every: Duration,
    options: ServeOptions,
}

impl Application {
    /// Opens the installation the settings name (store, key file, policies, witness) and binds
    /// `serve.listen` (port 0 picks a free one: see [`Application::local_addr`]).
    pub fn build(s: &Settings) -> Result<Application> {
        let vault = open_vault(s)?;
        let witness = witness_of(s, &vault)?;
        Application::with_vault(s, vault, witness)
    }

    /// As [`Application::build`], over a vault and witness already open.
    pub fn with_vault(s: &Settings, vault: Vault, witness: Witness) -> Result<Application> {
        if s.serve.checkpoint_every == 0 {
            bail!("--checkpoint-every (serve.checkpoint_every) must be at least 1 second");
        }
        let every = Duration::from_secs(s.serve.checkpoint_every);
        let options = serve_options(s)?;
        let vault = vault
            .with_four_eyes_above(s.guard.four_eyes_above)
            .with_guesses(s.auth.policy()?);
        if s.auth.lockouts == crate::settings::GuardMode::Off {
            eprintln!("rempart: authentication lockouts are off (--auth-lockouts off): failed credentials are recorded, nothing is locked nor delayed");
        }
        let vault = match &s.oidc {
            Some(oidc) => vault.with_oidc(oidc.provider()?),
            None => vault,
        };
        let vault = match crate::alerting::sink(&s.alerts)? {
            Some(sink) => vault.with_alert_sink(sink),
            None => vault,
        };
        // Redis, when configured, in place of the database for containment's counts.
        let vault = match crate::commands::redis_counts(s)? {
            Some(redis) => vault.with_shared_counts(redis),
            None => vault,
        };
        let vault = match s.guard.config()? {
            Some(config) => {
                let vault = vault.with_guard(config);
                vault
                    .load_guard()
                    .context("reading containment's kept state")?;
                vault
            }
            None => {
                eprintln!("rempart: containment is off (--guard off): nothing limits how many people a token reads");
                vault
            }
        };
        // Vault calls run on the blocking pool; a few dozen threads keep every core busy on
        // SQLite and AES without each holding its own connections and page cache.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .max_blocking_threads(rempart_server::blocking_threads())
            .build()
            .context("starting the runtime")?;
        let listen = s.serve.listen.clone();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(&listen))
            .with_context(|| format!("listening on {listen}"))?;
        Ok(Application {
            runtime,
            listener,
            vault: Arc::new(vault),
            witness,
            every,
            options,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener
            .local_addr()
            .context("reading the bound address")
    }

    /// `https` under TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.options.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// Serves until Ctrl-C or SIGTERM.
    pub fn run(self) -> Result<()> {
        // The handlers are installed now, inside the runtime, so an early signal is not lost.
        let stop = {
            let _inside = self.runtime.enter();
            shutdown_signal()
        };
        self.run_until(stop)
    }

    /// Serves until `stop` completes, then stops accepting, lets every connection finish, and
    /// signs a last checkpoint of the audit log.
    pub fn run_until(self, stop: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let Application {
            runtime,
            listener,
            vault,
            witness,
            every,
            options,
        } = self;
        runtime.block_on(async move {
            let checkpoints = {
                let (vault, witness) = (vault.clone(), witness.clone());
                // Several nodes on one database: the holder of the checkpoint lease signs; it
                // is renewed at each period and lapses after three missed ones.
                let lease = i64::try_from(every.as_secs().saturating_mul(3)).unwrap_or(i64::MAX);
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(every);
                    loop {
                        tick.tick().await;
                        let (v, w) = (vault.clone(), witness.clone());
                        match tokio::task::spawn_blocking(move || v.checkpoint_as_holder(&w, lease))
                            .await
                        {
                            Ok(Ok(_)) => {}
                            Ok(Err(e)) => tracing::error!(error = %e, "audit checkpoint failed"),
                            Err(_) => tracing::error!("audit checkpoint task failed"),
                        }
                        let v = vault.clone();
                        if let Ok(Err(e)) =
                            tokio::task::spawn_blocking(move || v.save_guard()).await
                        {
                            tracing::error!(error = %e, "saving containment's state failed");
                        }
                    }
                })
            };
            let served = rempart_server::serve_with(listener, vault.clone(), options, stop)
                .await
                .context("serving");
            checkpoints.abort();
            let v = vault.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || v.save_guard()).await {
                tracing::error!(error = %e, "saving containment's state failed");
            }
            let last =
                tokio::task::spawn_blocking(move || vault.checkpoint_as_holder(&witness, 1)).await;
            if let Ok(Err(e)) = last {
                tracing::error!(error = %e, "final audit checkpoint failed");
            }
            served
        })
    }
}

/// Completes on Ctrl-C or SIGTERM. The handlers are installed when this is called (inside the
/// runtime), not when the future is first polled, so a signal arriving early is not lost.
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut t), Ok(mut i)) => {
                tokio::select! {
                    _ = t.recv() => {}
                    _ = i.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}
