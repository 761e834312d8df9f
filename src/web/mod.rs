//! HTTP: serving the built site, and the request service, with axum.

pub mod requests;
pub mod respond;
pub mod server;
pub mod sweep;

use std::path::{Path, PathBuf};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_http::services::ServeDir;

/// Serve the output folder as a static host would: `dir/` → `dir/index.html`, and the site's
/// own `404.html` (with status 404) for anything missing.
pub fn site_router(out_dir: &Path) -> Router {
    let not_found_page = out_dir.join("404.html");
    let files = ServeDir::new(out_dir)
        .append_index_html_on_directories(true)
        .fallback(axum::routing::any(move || {
            not_found(not_found_page.clone())
        }));
    Router::new().fallback_service(files)
}

async fn not_found(page: PathBuf) -> Response {
    match tokio::fs::read(&page).await {
        Ok(bytes) => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            bytes,
        )
            .into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "Not found").into_response(),
    }
}
