//! Emails: composed from the theme's `emails/` templates (subject, plain text, HTML), and sent
//! through a [`Mailer`]: a folder of `.eml` files, an SMTP server, or memory (unit tests).

use std::path::Path;
use std::sync::{Arc, Mutex};

use lettre::message::header::{HeaderName, HeaderValue};
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
            let mut with_subject = ctx.clone();
            with_subject.insert("subject", &subject);
            let name = format!("{kind}.html");
            self.tera
                .render(&name, &with_subject)
                .map_err(|e| MailError::Template {
                    template: name.clone(),
                    message: e.to_string(),
                })?
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
    /// The handbook's guide to the first session (`content/handbook/first-session.md`), or
    /// the handbook's front page when the scheme has none.
    pub first_session_url_full: String,
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
    pub fn of(config: &Config, root: &Path) -> SiteFacts {
        let handbook = format!("{}/handbook/", config.base_url);
        let guide = root.join("content/handbook/first-session.md");
        SiteFacts {
            title: config.title.clone(),
            language: config.language.clone(),
            register_url_full: format!("{}/", config.base_url),
            first_session_url_full: if guide.is_file() {
                format!("{handbook}first-session/")
            } else {
                handbook.clone()
            },
            handbook_url_full: handbook,
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

/// One email, addressed, ready to become a [`Message`].
#[derive(Debug, Clone, Copy)]
pub struct Letter<'a> {
    /// `Name <address>` from `[email] from`.
    pub from: &'a str,
    pub to: &'a str,
    pub reply_to: Option<&'a str>,
    pub message_id: &'a str,
    /// The Message-ID of the first mail of this conversation, for a later one: mail clients
    /// then show a request's mails to one person as one thread.
    pub in_reply_to: Option<&'a str>,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    /// For the team to read today (a concern): sent with `Importance: high`.
    pub urgent: bool,
}

/// Build the message. An address that does not parse is a permanent failure. Every header
/// value is encoded here, never passed through: a subject that holds `=?` (text a mail
/// client would decode as an encoded word) is encoded whole, and a plain-ASCII sender name
/// is quoted rather than base64-encoded (which spam filters count against a mail).
pub fn message(l: &Letter) -> Result<Message, SendError> {
    let permanent = |what: &str, e: &dyn std::fmt::Display| SendError {
        temporary: false,
        message: format!("{what}: {e}"),
    };
    let from: Mailbox = l.from.parse().map_err(|e| permanent("from address", &e))?;
    let to = bare(l.to).map_err(|e| permanent("recipient address", &e))?;
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(l.subject)
        .message_id(Some(l.message_id.to_string()));
    if let Some(r) = l.reply_to {
        let r = bare(r).map_err(|e| permanent("reply-to address", &e))?;
        builder = builder.reply_to(r);
    }
    if let Some(first) = l.in_reply_to {
        builder = builder
            .in_reply_to(first.to_string())
            .references(first.to_string());
    }
    let mut message = builder
        .multipart(MultiPart::alternative_plain_html(
            l.text.to_string(),
            l.html.to_string(),
        ))
        .map_err(|e| permanent("building the email", &e))?;
    let headers = message.headers_mut();
    if l.urgent {
        headers.insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("Importance"),
            "high".to_string(),
        ));
    }
    if l.subject.contains("=?") {
        headers.insert_raw(HeaderValue::dangerous_new_pre_encoded(
            HeaderName::new_from_ascii_str("Subject"),
            l.subject.to_string(),
            encoded_words(l.subject),
        ));
    }
    if let Some(name) = from.name.as_deref()
        && let Some(quoted) = quoted_name(name)
    {
        headers.insert_raw(HeaderValue::dangerous_new_pre_encoded(
            HeaderName::new_from_ascii_str("From"),
            from.to_string(),
            format!("{quoted} <{}>", from.email),
        ));
    }
    Ok(message)
}

/// `text` as RFC 2047 base64 encoded words of at most 75 characters, folded: all ASCII,
/// with nothing in it a mail client could read as another header or another word.
fn encoded_words(text: &str) -> String {
    use base64::Engine as _;
    let encode = |chunk: &str| {
        format!(
            "=?utf-8?b?{}?=",
            base64::engine::general_purpose::STANDARD.encode(chunk)
        )
    };
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        // 39 bytes make 52 characters of base64: 64 with the markers, 73 after "Subject: ".
        if chunk.len() + c.len_utf8() > 39 {
            words.push(encode(&chunk));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(encode(&chunk));
    }
    words.join("\r\n ")
}

/// A display name of printable ASCII as a quoted string (`"Returners' Peer Mentoring"`),
/// or `None` when it needs encoding (lettre's own is right for those).
fn quoted_name(name: &str) -> Option<String> {
    if name.contains("=?") || !name.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return None;
    }
    let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
    Some(format!("\"{escaped}\""))
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

    fn letter<'a>(to: &'a str, reply_to: Option<&'a str>) -> Letter<'a> {
        Letter {
            from: "Scheme <no-reply@example.org>",
            to,
            reply_to,
            message_id: "<r1.mentor@example.org>",
            in_reply_to: None,
            subject: "Subject",
            text: "text",
            html: "<p>html</p>",
            urgent: false,
        }
    }

    fn build(to: &str, reply_to: Option<&str>) -> Result<Message, SendError> {
        message(&letter(to, reply_to))
    }

    fn headers_of(l: &Letter) -> String {
        message(l).unwrap().headers().to_string()
    }

    #[test]
    fn an_encoded_word_typed_into_a_subject_is_encoded_not_passed_through() {
        let sneaky = "New request from =?utf-8?q?Your_bank?= (please verify)";
        let headers = headers_of(&Letter {
            subject: sneaky,
            ..letter("sam@example.org", None)
        });
        let subject = headers
            .split("\r\n")
            .skip_while(|l| !l.starts_with("Subject: "))
            .take_while(|l| l.starts_with("Subject: ") || l.starts_with(' '))
            .collect::<Vec<_>>()
            .join("\r\n");
        assert!(!subject.contains("=?utf-8?q?"), "{subject}");
        assert!(subject.lines().all(|l| l.len() <= 78), "{subject}");
        // Decoded, it reads as typed.
        use base64::Engine as _;
        let decoded: String = subject
            .trim_start_matches("Subject: ")
            .split_whitespace()
            .map(|w| {
                let b64 = w.trim_start_matches("=?utf-8?b?").trim_end_matches("?=");
                String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .unwrap(),
                )
                .unwrap()
            })
            .collect();
        assert_eq!(decoded, sneaky);
        let plain = headers_of(&letter("sam@example.org", None));
        assert!(
            plain.contains("Subject: Subject\r\n"),
            "plain subjects stay plain"
        );
    }

    #[test]
    fn the_sender_s_name_is_quoted_not_base64_and_later_mails_thread() {
        let headers = headers_of(&Letter {
            from: "Returners' Peer Mentoring <no-reply@example.org>",
            in_reply_to: Some("<r1.mentor@example.org>"),
            message_id: "<r1.reminder_mentor@example.org>",
            ..letter("sam@example.org", None)
        });
        assert!(
            headers.contains("From: \"Returners' Peer Mentoring\" <no-reply@example.org>\r\n"),
            "{headers}"
        );
        assert!(
            headers.contains("In-Reply-To: <r1.mentor@example.org>\r\n"),
            "{headers}"
        );
        assert!(
            headers.contains("References: <r1.mentor@example.org>\r\n"),
            "{headers}"
        );
        let accented = headers_of(&Letter {
            from: "Mentorat Pair-à-Pair <no-reply@example.org>",
            ..letter("sam@example.org", None)
        });
        assert!(accented.contains("From: =?utf-8?"), "{accented}");
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
