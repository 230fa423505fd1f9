//! Everything against real hosts: the lab's sshd + dockerd network namespaces (tests/lab/lab.sh), real Kamal 2.11 beside kdeck. Modules take turns (support::lab::turn); outside CI a lab that cannot start is skipped, with KDECK_LAB_REQUIRED=1 it fails.

#[path = "../support/mod.rs"]
mod support;

mod accessories;
mod backend_docker;
mod backend_ssh;
mod build;
mod cli_on_lab;
mod dashboard_e2e;
mod deploy_dialog;
mod destinations;
mod engine;
mod engine_build;
mod exec_pty;
mod fleet_accessories;
mod fleet_watch;
mod interop_manage;
mod interop_trace;
mod lifecycle;
mod proxy;
mod real_kamal;
mod resources_cli;
mod resources_live;
mod resources_prune;
mod rollout;
mod row_actions;
mod scale_smoke;
mod traffic;
