//! Mutating headless commands: they hand a request to the engine and print its events.

use super::context::Ctx;
use super::printer::Printer;
use crate::deploy::{AbortHandle, EngineError, Event, Request};
use color_eyre::eyre::Result;
use std::process::ExitCode;
use tokio::sync::mpsc;

enum Kind {
    Rollout,
    Other,
}

const NO_LOCK: &str = "There is no deploy lock";

/// Run a request with Ctrl-C handling; returns Kamal's exit code.
pub async fn run_request(ctx: &Ctx, req: Request, version: String) -> Result<ExitCode> {
    run_build_request(ctx, req, version, false).await
}

/// A request that may build the image: `no_cache` is `--no-cache`.
pub async fn run_build_request(ctx: &Ctx, req: Request, version: String, no_cache: bool) -> Result<ExitCode> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let abort = AbortHandle::new();
    let mut engine = ctx.engine(version, tx.clone(), abort.clone());
    engine.opts.no_cache = no_cache;
    // Lock commands print Kamal's one-line result, not the engine's steps.
    let req_kind = if matches!(req, Request::Setup { .. } | Request::Deploy { .. } | Request::Redeploy { .. } | Request::Rollback { .. } | Request::AppBoot) {
        Kind::Rollout
    } else {
        Kind::Other
    };
    let lock_req = match &req {
        Request::LockAcquire { .. } => Some("Acquired the deploy lock"),
        Request::LockRelease => Some("Released the deploy lock"),
        _ => None,
    };
    let mut printer = Printer::new(ctx.global.json, ctx.global.quiet || lock_req.is_some());
    let printer_task = tokio::spawn(async move {
        let mut out = std::io::stdout();
        while let Some(e) = rx.recv().await {
            printer.print(&e, &mut out);
        }
    });
    let sig_abort = abort.clone();
    let sig_tx = tx.clone();
    let sig = tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            sig_abort.request();
            let _ = sig_tx.send(Event::Aborting { forced: sig_abort.is_forced() });
        }
    });
    let res = engine.run(req).await;
    sig.abort();
    let aborted = matches!(res, Err(EngineError::Aborted)) || abort.is_stopping();
    drop(engine);
    drop(tx);
    let _ = printer_task.await;
    // After an interruption or a failed rollout: what runs where now (hosts may run two
    // versions of a role, or be unreachable).
    let rollout = matches!(req_kind, Kind::Rollout);
    if !ctx.global.json && (aborted || (rollout && matches!(res, Err(EngineError::Failed { .. })))) {
        report_host_states(ctx, if aborted { "interruption" } else { "failure" }).await;
    }
    match res {
        Ok(()) => {
            if let (Some(m), false) = (lock_req, ctx.global.json) {
                crate::outln!("{m}");
            }
            Ok(ExitCode::SUCCESS)
        }
        // Kamal's `lock release` without a lock: the message, exit 0.
        Err(EngineError::Failed { host: None, message }) if lock_req.is_some() && message == NO_LOCK => {
            crate::outln!("{NO_LOCK}");
            Ok(ExitCode::SUCCESS)
        }
        Err(EngineError::VersionUnavailable(v)) => {
            crate::outln!("The app version '{v}' is not available as a container (use 'kdeck app containers' for available versions)");
            Ok(ExitCode::SUCCESS)
        }
        Err(EngineError::Locked(info)) => {
            if !ctx.global.json {
                crate::outln!("Deploy lock already in place!");
                crate::outln!(
                    "Locked by: {} at {}\nVersion: {}\nMessage: {}",
                    info.holder,
                    info.at.map(|a| a.format("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_default(),
                    info.version.unwrap_or_default(),
                    info.message
                );
            }
            crate::errln!("ERROR (LockError): Deploy lock found. Run 'kdeck lock help' for more information");
            Ok(ExitCode::from(1))
        }
        Err(e) => {
            crate::errln!("ERROR: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// After an interrupted action: what runs where now.
async fn report_host_states(ctx: &Ctx, after: &str) {
    for line in crate::app::states::host_states(ctx, after).await {
        // With stdout gone (`| tee` killed by the same Ctrl-C) the report goes to stderr.
        if !super::out::out(&line) {
            super::out::err(&line);
        }
    }
}
