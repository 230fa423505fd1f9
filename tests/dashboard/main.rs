//! The dashboard without a lab: views snapshotted at 80x24 and 160x40, keys, overlays, the timeline, the resources panels and the event loop, from fixtures.

#[path = "../support/mod.rs"]
mod support;

mod accessories;
mod apps_memory;
mod deploy_dialog;
mod destinations;
mod errors;
mod event_loop;
mod exec;
mod fleet_filter;
mod manage;
mod mouse;
mod notify;
mod quit_filters_and_truncation;
mod resources_panels;
mod resources_view;
mod row_actions;
mod settings;
mod timeline;
mod traffic;
mod trust;
mod views;
