//! The plumbing every fake shares: an axum app served on a loopback port by its own thread
//! and runtime (so sync and async tests alike can use it), behind the fault switch
//! (`crate::faults`), stopped at once when dropped.

use std::future::Future;
use std::net::SocketAddr;
use std::thread::JoinHandle;

use anyhow::Context;
use axum::Router;
use tokio::sync::oneshot;

use crate::faults::FaultSwitch;

/// An axum app served on a loopback port by its own thread, stopped when dropped.
pub struct LoopbackServer {
    addr: SocketAddr,
    faults: FaultSwitch,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl LoopbackServer {
    /// Serves `app` on `listen` (port 0 for a free one); `what` names it in errors.
    pub fn start(listen: &str, app: Router, what: &str) -> anyhow::Result<LoopbackServer> {
        LoopbackServer::start_with(listen, app, what, None::<std::future::Pending<()>>)
    }

    /// Serves `app` and runs `background` (a simulation clock, say) on the same runtime.
    pub fn start_with<F>(
        listen: &str,
        app: Router,
        what: &str,
        background: Option<F>,
    ) -> anyhow::Result<LoopbackServer>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let listener = std::net::TcpListener::bind(listen)
            .with_context(|| format!("cannot listen on {listen}"))?;
        listener.set_nonblocking(true).context("cannot make the listener non-blocking")?;
        let addr = listener.local_addr().context("cannot read the listening address")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .with_context(|| format!("cannot build the {what}'s runtime"))?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener).context("cannot adopt the listener")?
        };
        let faults = FaultSwitch::default();
        let app =
            app.layer(axum::middleware::from_fn_with_state(faults.clone(), crate::faults::play));
        let (shutdown, stopped) = oneshot::channel::<()>();
        let name = format!("{what} on {addr}");
        let thread = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                runtime.block_on(async move {
                    if let Some(background) = background {
                        tokio::spawn(background);
                    }
                    // Not a graceful shutdown: a blocking query may be waiting for minutes,
                    // and a dropped fake must stop at once.
                    tokio::select! {
                        result = axum::serve(listener, app) => {
                            if let Err(error) = result {
                                eprintln!("{name} stopped: {error}");
                            }
                        }
                        _ = stopped => {}
                    }
                });
            })
            .with_context(|| format!("cannot start the {what}'s thread"))?;
        Ok(LoopbackServer { addr, faults, shutdown: Some(shutdown), thread: Some(thread) })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The faults this server plays in front of its app.
    pub fn faults(&self) -> &FaultSwitch {
        &self.faults
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
