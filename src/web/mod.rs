//! HTTP with axum: the request service, and `serve`'s live site.

pub mod live;
pub mod requests;
pub mod respond;
pub mod server;
pub mod sweep;
