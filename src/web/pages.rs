//! The service's own pages, rendered with the site's theme: the form shown again with what
//! the mentee typed, the mentor's respond page, the mentee's withdraw page, and the short
//! outcome pages after each.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;
use tera::Context;

use crate::config::Config;
use crate::register::Register;
use crate::render::theme::Theme;
use crate::render::views::{self, SiteView};

pub struct Pages {
    theme: Theme,
    site: SiteView,
    /// Where the form posts.
    pub form_action: String,
    /// Where the site is, for the redirect after a request: `base_url`, or "" under `serve`
    /// (the same origin as the form).
    pub site_base: String,
}

/// A mentor as a page names them.
#[derive(Debug, Clone, Serialize)]
pub struct MentorLink {
    pub name: String,
    pub url: String,
}

impl Pages {
    pub fn new(
        config: &Config,
        register: &Register,
        theme: Theme,
        today: jiff::civil::Date,
    ) -> Pages {
        // On the site's own origin, links are paths; from a service on another origin
        // (`[requests] url`), they are whole addresses, stylesheet included.
        let base = if config.requests.url.is_empty() {
            views::base_path(&config.base_url)
        } else {
            format!("{}/", config.base_url.trim_end_matches('/'))
        };
        let site = views::site_at(
            config,
            register,
            today,
            crate::render::asset_urls(&theme, &base),
            base,
        );
        Pages {
            theme,
            site,
            form_action: config.request_action(),
            site_base: config.base_url.clone(),
        }
    }

    /// A context with what every page needs.
    pub fn context(&self) -> Context {
        let mut ctx = Context::new();
        ctx.insert("site", &self.site);
        ctx.insert("current_url", "");
        ctx
    }

    /// Render `template`; a template that fails is logged and a plain line sent instead.
    pub fn render(&self, status: StatusCode, template: &str, ctx: &Context) -> Response {
        match self.theme.tera.render(template, ctx) {
            Ok(html) => (status, [("cache-control", "no-store")], Html(html)).into_response(),
            Err(e) => {
                crate::log::event(
                    "template_error",
                    &[("template", template), ("error", &e.to_string())],
                );
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side.",
                )
                    .into_response()
            }
        }
    }

    /// A short page telling the reader how things stand.
    pub fn outcome(&self, status: StatusCode, title: &str, message: &str) -> Response {
        let mut ctx = self.context();
        ctx.insert("title", title);
        ctx.insert("message", message);
        self.render(status, "respond_outcome.html", &ctx)
    }
}
