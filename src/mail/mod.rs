//! Emails: composed from the theme's `emails/` templates (subject, plain text, HTML), and sent
//! through a [`Mailer`]: a folder of `.eml` files, an SMTP server, or memory (unit tests).

use std::path::Path;
use std::sync::{Arc, Mutex};

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Serialize;
use tera::{Context, Tera};

use crate::config::{Config, Smtp, Tls};

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("email template {template}: {message}")]
    Template { template: String, message: String },
    #[error("reading email templates: {0}")]
    Io(#[from] std::io::Error),
}

/// The theme's email templates.
pub struct Templates {
    tera: Tera,
}

/// A composed email, before it has an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Templates {
    /// Load `<kind>.subject.txt`, `<kind>.txt` and, where there is one, `<kind>.html` for
    /// each of `kinds`, with `layout.html` for the HTML of those without.
    pub fn load(root: &Path, theme: &str, kinds: &[&str]) -> Result<Templates, MailError> {
        let dir = root.join("themes").join(theme).join("emails");
        let mut tera = Tera::new();
        tera.autoescape_on([".html"]);
        crate::render::theme::register_filters(&mut tera);
        let mut sources = Vec::new();
        let mut required: Vec<String> = vec!["layout.html".into()];
        for kind in kinds {
            required.push(format!("{kind}.subject.txt"));
            required.push(format!("{kind}.txt"));
        }
        for name in &required {
            let text =
                std::fs::read_to_string(dir.join(name)).map_err(|e| MailError::Template {
                    template: format!("themes/{theme}/emails/{name}"),
                    message: e.to_string(),
                })?;
            sources.push((name.clone(), text));
        }
        for kind in kinds {
            let name = format!("{kind}.html");
            if let Ok(text) = std::fs::read_to_string(dir.join(&name)) {
                sources.push((name, text));
            }
        }
        tera.add_raw_templates(sources.iter().map(|(n, t)| (n.as_str(), t.as_str())))
            .map_err(|e| MailError::Template {
                template: format!("themes/{theme}/emails"),
                message: e.to_string(),
            })?;
        Ok(Templates { tera })
    }

    pub fn compose(&self, kind: &str, ctx: &Context) -> Result<Composed, MailError> {
        let render = |ext: &str| {
            let name = format!("{kind}.{ext}");
            self.tera
                .render(&name, ctx)
                .map_err(|e| MailError::Template {
                    template: name.clone(),
                    message: e.to_string(),
                })
        };
        let subject = render("subject.txt")?;
        // A subject is one line whatever the template or the data say.
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        let text = render("txt")?;
        let html = if self.tera.contains_template(&format!("{kind}.html")) {
            render("html")?
        } else {
            let mut with_text = ctx.clone();
            let paragraphs: Vec<&str> = text
                .split("\n\n")
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect();
            with_text.insert("subject", &subject);
            with_text.insert("paragraphs", &paragraphs);
            self.tera
                .render("layout.html", &with_text)
                .map_err(|e| MailError::Template {
                    template: "layout.html".into(),
                    message: e.to_string(),
                })?
        };
        Ok(Composed {
            subject,
            text,
            html,
        })
    }
}

/// Scheme facts every email may use.
#[derive(Serialize)]
pub struct SiteFacts {
    pub title: String,
    pub language: String,
    pub register_url_full: String,
    pub handbook_url_full: String,
    pub scheme: SchemeFacts,
}

#[derive(Serialize)]
pub struct SchemeFacts {
    pub admin_email: String,
    pub sessions_offered: u32,
    pub window_months: u32,
    pub response_working_days: u32,
}

impl SiteFacts {
    pub fn of(config: &Config) -> SiteFacts {
        SiteFacts {
            title: config.title.clone(),
            language: config.language.clone(),
            register_url_full: format!("{}/", config.base_url),
            handbook_url_full: format!("{}/handbook/", config.base_url),
            scheme: SchemeFacts {
                admin_email: config.scheme.admin_email.clone(),
                sessions_offered: config.scheme.sessions_offered,
                window_months: config.scheme.window_months,
                response_working_days: config.scheme.response_working_days,
            },
        }
    }
}

/// Whether a failed send is worth trying again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub temporary: bool,
    pub message: String,
}

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    /// One `.eml` file per mail in a folder (the default in `serve`).
    File(AsyncFileTransport<Tokio1Executor>),
    /// An SMTP relay; `limit` bounds one whole send, from connecting to the last answer.
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        limit: std::time::Duration,
    },
    /// Kept in memory, for unit tests.
    Memory(Arc<Mutex<Vec<Message>>>),
}

impl Mailer {
    pub fn file(dir: &Path) -> std::io::Result<Mailer> {
        std::fs::create_dir_all(dir)?;
        Ok(Mailer::File(AsyncFileTransport::new(dir)))
    }

    /// An SMTP relay from `[email.smtp]`; the password comes from `MENTORSITE_SMTP_PASSWORD`.
    pub fn smtp(
        smtp: &Smtp,
        password: Option<String>,
    ) -> Result<Mailer, lettre::transport::smtp::Error> {
        let builder = match smtp.tls {
            Tls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)?,
            Tls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)?,
            Tls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
        };
        let limit = std::time::Duration::from_secs(u64::from(smtp.timeout_seconds));
        // lettre's own timeout covers connecting and each command; `limit` covers the whole
        // send, a greeting that never comes included.
        let mut builder = builder.port(smtp.port).timeout(Some(limit));
        if let Some(password) = password {
            builder =
                builder.credentials(lettre::transport::smtp::authentication::Credentials::new(
                    smtp.username.clone(),
                    password,
                ));
        }
        Ok(Mailer::Smtp {
            transport: builder.build(),
            limit,
        })
    }

    /// The longest one send may take.
    pub fn limit(&self) -> std::time::Duration {
        match self {
            Mailer::Smtp { limit, .. } => *limit,
            _ => std::time::Duration::from_secs(30),
        }
    }

    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Mailer::File(t) => t.send(message).await.map(|_| ()).map_err(|e| SendError {
                temporary: true,
                message: e.to_string(),
            }),
            Mailer::Smtp { transport, limit } => {
                match tokio::time::timeout(*limit, transport.send(message)).await {
                    Ok(sent) => sent.map(|_| ()).map_err(|e| SendError {
                        // lettre calls a refused connection neither transient nor permanent:
                        // only a permanent (5xx) answer is worth giving up on.
                        temporary: !e.is_permanent(),
                        message: e.to_string(),
                    }),
                    Err(_) => Err(SendError {
                        temporary: true,
                        message: format!(
                            "the mail server did not finish within {} s (no greeting, or a stalled answer)",
                            limit.as_secs()
                        ),
                    }),
                }
            }
            Mailer::Memory(v) => {
                v.lock().unwrap_or_else(|e| e.into_inner()).push(message);
                Ok(())
            }
        }
    }
}

/// Build the message. An address that does not parse is a permanent failure.
pub fn message(
    from: &str,
    to: &str,
    reply_to: Option<&str>,
    message_id: &str,
    subject: &str,
    text: &str,
    html: &str,
) -> Result<Message, SendError> {
    let permanent = |what: &str, e: &dyn std::fmt::Display| SendError {
        temporary: false,
        message: format!("{what}: {e}"),
    };
    let from: Mailbox = from.parse().map_err(|e| permanent("from address", &e))?;
    let to = bare(to).map_err(|e| permanent("recipient address", &e))?;
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .message_id(Some(message_id.to_string()));
    if let Some(r) = reply_to {
        let r = bare(r).map_err(|e| permanent("reply-to address", &e))?;
        builder = builder.reply_to(r);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            text.to_string(),
            html.to_string(),
        ))
        .map_err(|e| permanent("building the email", &e))
}

/// A recipient or reply-to address: by the one address rule ([`crate::address`]), then
/// lettre's parser. No display name is ever taken from stored data.
fn bare(address: &str) -> Result<Mailbox, String> {
    let checked = crate::address::check(address).map_err(|p| p.message().to_string())?;
    let address: lettre::Address = checked.parse().map_err(|e| format!("{e}"))?;
    Ok(Mailbox::new(None, address))
}

/// `<request.kind@domain>`, with the domain of the sender's address.
pub fn message_id(request_id: &str, kind: &str, from: &str) -> String {
    let domain = crate::config::mailbox_address(from)
        .rsplit('@')
        .next()
        .unwrap_or("localhost")
        .to_string();
    format!("<{request_id}.{kind}@{domain}>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(to: &str, reply_to: Option<&str>) -> Result<Message, SendError> {
        message(
            "Scheme <no-reply@example.org>",
            to,
            reply_to,
            "<r1.mentor@example.org>",
            "Subject",
            "text",
            "<p>html</p>",
        )
    }

    #[test]
    fn a_stored_address_in_another_form_fails_for_good_with_the_rule_s_words() {
        for bad in [
            "Free money <victim@x.example>",
            "\"a,b\"@x.example",
            "a@[127.0.0.1]",
        ] {
            let e = build(bad, None).unwrap_err();
            assert!(!e.temporary, "{bad}");
            assert!(
                e.message.starts_with("recipient address: "),
                "{}",
                e.message
            );
            let e = build("sam@example.org", Some(bad)).unwrap_err();
            assert!(e.message.starts_with("reply-to address: "), "{}", e.message);
        }
        let m = build(" sam@example.org ", Some("mentee@example.net")).unwrap();
        let headers = m.headers().to_string();
        assert!(headers.contains("To: sam@example.org\r\n"), "{headers}");
        assert!(
            headers.contains("Reply-To: mentee@example.net\r\n"),
            "{headers}"
        );
    }
}
