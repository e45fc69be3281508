//! The gateway: settings, CLI, router assembly, the host → tenant layer, apex pages, health and
//! metrics endpoints, workers and graceful shutdown.

pub mod app;
pub mod audit_retention;
pub mod cli;
pub mod csrf;
pub mod demo;
pub mod error_pages;
pub mod health;
pub mod host_layer;
pub mod metrics;
pub mod pages;
pub mod settings;
pub mod stack;
pub mod telemetry;

pub use app::Application;
pub use settings::Settings;
