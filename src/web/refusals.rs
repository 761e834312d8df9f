//! Every refusal on every route is the theme's page (or JSON when asked), never a framework's
//! plain-text line: a wrong method, a link with its token cut off, a form that is not a form,
//! an address that is not the service's.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::App;
use super::error::WebError;

/// Replace a plain-text (or empty) error answer from the router or an extractor with the
/// theme's page. Answers the handlers made themselves (HTML or JSON) pass as they are.
pub async fn themed(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let json = super::requests::wants_json(req.headers());
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|t| t.starts_with("text/plain"));
    if !plain {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut themed = refusal(status).shown_with(&app.pages, json).into_response();
    if let Some(allow) = allow {
        themed.headers_mut().insert(header::ALLOW, allow);
    }
    themed
}

/// An address the service does not answer: the theme's 404.
pub async fn not_found(State(app): State<Arc<App>>, req: Request) -> Response {
    let json = super::requests::wants_json(req.headers());
    refusal(StatusCode::NOT_FOUND)
        .shown_with(&app.pages, json)
        .into_response()
}

/// The theme's 404 page (or JSON).
pub fn not_found_page(app: &Arc<App>, json: bool) -> Response {
    refusal(StatusCode::NOT_FOUND)
        .shown_with(&app.pages, json)
        .into_response()
}

/// Words for a refusal the handlers did not word themselves.
fn refusal(status: StatusCode) -> WebError {
    let (code, title, message) = match status {
        StatusCode::NOT_FOUND => (
            "not_found",
            "There is nothing at this address",
            "This is the scheme's request service. To ask a mentor for a conversation, open their page on the register and use the form there.",
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method",
            "This page cannot be opened like that",
            "If you were sending a request or answering one, it has not been sent from here. Please go back to the page or the email you came from and use its button.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "too_large",
            "What was sent is too long",
            "Please go back, shorten what you wrote and send it again.",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
        | StatusCode::BAD_REQUEST
        | StatusCode::UNPROCESSABLE_ENTITY => (
            "malformed",
            "This link or form is not complete",
            "Part of it may have been cut off (long links in some email programs break over two lines). Please open the link from the email again, or copy all of it into the address bar.",
        ),
        s if s.is_server_error() => (
            "server",
            "Something went wrong on our side",
            "Nothing you sent has been lost. Please try again in a few minutes.",
        ),
        _ => (
            "refused",
            "This could not be done",
            "Please go back to the page or the email you came from and try again.",
        ),
    };
    WebError::link(status, code, title, message)
}
