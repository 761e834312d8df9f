//! `POST /hooks/push`: a push hook from GitHub or GitLab makes the service follow at once
//! (`endpoint --follow`). GitHub signs the body (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256>`),
//! GitLab sends the secret (`X-Gitlab-Token`); either is checked against
//! `MENTORSITE_WEBHOOK_SECRET` in constant time. No secret: the route answers 404. A missing or
//! wrong signature is 401 and changes nothing. The body is read (to check it) and never logged.

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::App;
use super::error::WebError;
use crate::follow::Follower;
use crate::mail::Mailer;

/// What the hook and the follow loop share.
pub struct FollowHook {
    pub follower: Arc<Follower>,
    /// Rung by a good hook (and by a request for an unknown mentor); the loop follows.
    pub wake: Arc<tokio::sync::Notify>,
    secret: Option<Vec<u8>>,
    limiter: DefaultDirectRateLimiter,
    /// For the one email about a push that was not taken.
    pub mailer: Mailer,
    pub from: String,
    pub admin: String,
    /// How often to follow without a hook (`[requests] follow_minutes`).
    pub every: std::time::Duration,
}

/// Signed hooks accepted a minute (a push storm or a replay is not a reason to fetch without
/// end).
const HOOKS_PER_MINUTE: u32 = 30;

impl FollowHook {
    pub fn new(
        follower: Arc<Follower>,
        secret: Option<Vec<u8>>,
        mailer: Mailer,
        from: String,
        admin: String,
        every: std::time::Duration,
    ) -> FollowHook {
        FollowHook {
            follower,
            wake: Arc::new(tokio::sync::Notify::new()),
            secret: secret.filter(|s| !s.is_empty()),
            limiter: RateLimiter::direct(Quota::per_minute(
                NonZeroU32::new(HOOKS_PER_MINUTE).expect("thirty"),
            )),
            mailer,
            from,
            admin,
            every,
        }
    }
}

/// Whether `headers` prove the sender knows `secret`, for `body`.
pub fn signed(secret: &[u8], headers: &HeaderMap, body: &[u8]) -> bool {
    if let Some(sig) = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
    {
        let Some(hex) = sig.trim().strip_prefix("sha256=") else {
            return false;
        };
        let Some(expected) = from_hex(hex) else {
            return false;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
            return false;
        };
        mac.update(body);
        return mac.verify_slice(&expected).is_ok();
    }
    if let Some(token) = headers.get("x-gitlab-token") {
        // Compared as MACs of both, so the time taken says nothing about the secret.
        let mac = |v: &[u8]| {
            let mut m = Hmac::<Sha256>::new_from_slice(b"mentorsite gitlab token").expect("key");
            m.update(v);
            m.finalize().into_bytes()
        };
        return mac(token.as_bytes()) == mac(secret);
    }
    false
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

pub async fn push(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(hook) = app.follow.get() else {
        return super::refusals::not_found_page(&app, false);
    };
    let Some(secret) = &hook.secret else {
        return super::refusals::not_found_page(&app, false);
    };
    let json = |status: StatusCode, word: &str| {
        (status, axum::Json(serde_json::json!({ "status": word }))).into_response()
    };
    // The signature first: unsigned posts never use up the allowance of real hooks.
    if !signed(secret, &headers, &body) {
        crate::log::event("hook_refused", &[("reason", "signature")]);
        return WebError::link(
            StatusCode::UNAUTHORIZED,
            "signature",
            "This hook is not signed",
            "Set the hook's secret to the value of MENTORSITE_WEBHOOK_SECRET.",
        )
        .shown_with(&app.pages, true)
        .into_response();
    }
    if hook.limiter.check().is_err() {
        crate::log::event("hook_refused", &[("reason", "rate")]);
        return json(StatusCode::TOO_MANY_REQUESTS, "too_many");
    }
    crate::log::event("hook_received", &[]);
    hook.wake.notify_one();
    json(StatusCode::ACCEPTED, "following")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn github_s_signature_and_gitlab_s_token_are_checked() {
        // GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!".
        let secret = b"It's a Secret to Everybody";
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let body = b"Hello, World!";
        assert!(signed(
            secret,
            &headers(&[("x-hub-signature-256", sig)]),
            body
        ));
        assert!(!signed(
            secret,
            &headers(&[("x-hub-signature-256", sig)]),
            b"Hello, World?"
        ));
        assert!(!signed(
            b"another secret",
            &headers(&[("x-hub-signature-256", sig)]),
            body
        ));
        let bare = sig.trim_start_matches("sha256=");
        assert!(!signed(
            secret,
            &headers(&[("x-hub-signature-256", bare)]),
            body
        ));
        assert!(!signed(
            secret,
            &headers(&[("x-hub-signature-256", "sha256=zz")]),
            body
        ));
        assert!(signed(
            secret,
            &headers(&[("x-gitlab-token", "It's a Secret to Everybody")]),
            body
        ));
        assert!(!signed(
            secret,
            &headers(&[("x-gitlab-token", "It's a secret")]),
            body
        ));
        assert!(!signed(secret, &HeaderMap::new(), body));
    }
}
