//! `site.toml` → [`Config`]: the site, the scheme's rules, its register fields, images, the
//! request service and email.
//!
//! Parsing is two-step, as elsewhere in the crate: serde reads the file into `Raw*` types that
//! keep source spans, then [`validate`] turns them into the checked [`Config`], collecting every
//! problem as a [`Diagnostic`] with the line of the key at fault. Unknown keys are errors, all of
//! them reported at once with a "did you mean" hint.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use jiff::civil::Date;
use serde::Deserialize;
use toml::Spanned;

use crate::diag::{Diagnostic, Diagnostics, Pos, did_you_mean};

pub const FILE_NAME: &str = "site.toml";

/// Front-matter keys every scheme has; `[[fields]]` may not redeclare them.
pub const BUILTIN_KEYS: &[&str] = &[
    "name",
    "pronouns",
    "headshot",
    "headshot_alt",
    "email",
    "phone",
    "accepting",
    "away_until",
    "capacity",
];

/// The validated site configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub title: String,
    /// Without a trailing slash.
    pub base_url: String,
    pub language: String,
    pub theme: String,
    pub output_dir: PathBuf,
    pub scheme: Scheme,
    pub fields: Vec<FieldDef>,
    pub images: Images,
    pub requests: Requests,
    pub email: Email,
}

#[derive(Debug, Clone)]
pub struct Scheme {
    pub admin_email: String,
    pub sessions_offered: u32,
    pub window_months: u32,
    pub response_working_days: u32,
    pub reminder_working_days: u32,
    pub time_zone: jiff::tz::TimeZone,
    pub time_zone_name: String,
    pub holidays: Vec<Date>,
    /// Working days after a match before a mentor with no session recorded is nudged.
    pub first_session_days: u32,
    /// How a mentor may say a session was held, as the session form offers them.
    pub meeting_modes: Vec<String>,
}

/// The ways a session can be held when a scheme names none.
pub const DEFAULT_MEETING_MODES: [&str; 3] = ["video", "phone", "in person"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    Text,
    List,
    Bool,
    Date,
}

impl FieldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::List => "list",
            FieldKind::Bool => "bool",
            FieldKind::Date => "date",
        }
    }
}

/// One scheme-specific front-matter key.
#[derive(Debug, Clone)]
pub struct FieldDef {
    pub key: String,
    pub label: String,
    pub kind: FieldKind,
    pub required: bool,
    pub filter: bool,
    pub private: bool,
    /// Shown on the mentor's card in the register (at most three fields are).
    pub card: bool,
    pub values: Option<Vec<String>>,
    pub help: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Images {
    pub sizes: Vec<u32>,
    pub formats: Vec<String>,
    pub quality: u8,
}

#[derive(Debug, Clone)]
pub struct Requests {
    /// Where forms post, without a trailing slash; empty for the site's own origin.
    pub url: String,
    pub allowed_origins: Vec<String>,
    /// Proxies (such as the TLS proxy in front of the service) whose `X-Forwarded-For` is
    /// believed: the client's address is taken from it only when the peer is one of these.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub database: PathBuf,
    pub retention_days: u32,
    /// Under `endpoint --follow`, how often the service fetches without a push hook.
    pub follow_minutes: u32,
}

#[derive(Debug, Clone)]
pub struct Email {
    pub from: String,
    pub transport: Transport,
    pub outbox_dir: PathBuf,
    pub smtp: Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    File,
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub tls: Tls,
    /// The longest one email may take, from connecting to the server's last answer.
    pub timeout_seconds: u32,
}

impl Config {
    pub fn field(&self, key: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.key == key)
    }

    /// Read `site.toml` under `root`. A missing or unreadable file is an I/O error (exit 2);
    /// a file with problems gives every problem as diagnostics (exit 1).
    pub fn load(root: &Path) -> Result<Result<Config, Diagnostics>, std::io::Error> {
        let path = root.join(FILE_NAME);
        let src = std::fs::read_to_string(&path)?;
        Ok(Config::parse(&src, Path::new(FILE_NAME)))
    }

    /// Parse and validate the text of a `site.toml`; `path` is only used in messages.
    pub fn parse(src: &str, path: &Path) -> Result<Config, Diagnostics> {
        let src = src.strip_prefix('\u{feff}').unwrap_or(src);
        let mut diags = Diagnostics::new();
        let at = |span: Range<usize>| Pos::of_offset(src, span.start);

        let (_, syntax_errors) = toml::de::DeTable::parse_recoverable(src);
        if !syntax_errors.is_empty() {
            for e in syntax_errors {
                let pos = e.span().map_or(Pos::START, at);
                diags.push(
                    Diagnostic::error(path, pos, format!("invalid TOML: {}", e.message().trim()))
                        .with_hint("check the quotes, brackets and `=` signs on this line"),
                );
            }
            return Err(diags);
        }

        let mut unknown = Vec::new();
        let deserializer = match toml::de::Deserializer::parse(src) {
            Ok(d) => d,
            Err(e) => {
                let pos = e.span().map_or(Pos::START, at);
                diags.push(Diagnostic::error(path, pos, e.message().trim().to_string()));
                return Err(diags);
            }
        };
        let raw: Result<RawSite, _> =
            serde_ignored::deserialize(deserializer, |p| unknown.push(p.to_string()));
        for key_path in &unknown {
            diags.push(unknown_key(src, path, key_path));
        }
        let raw = match raw {
            Ok(raw) => raw,
            Err(e) => {
                let pos = e.span().map_or(Pos::START, at);
                diags.push(
                    Diagnostic::error(path, pos, e.message().trim().to_string())
                        .with_hint("see the `site.toml` reference in the README"),
                );
                return Err(diags);
            }
        };
        let config = validate(raw, src, path, &mut diags);
        if diags.has_errors() {
            Err(diags)
        } else {
            Ok(config)
        }
    }

    /// Where forms post: `[requests].url` + `/requests`, or a same-origin path.
    pub fn request_action(&self) -> String {
        format!("{}/requests", self.requests.url)
    }
}

// ---------------------------------------------------------------------------------------------
// Raw, as written

#[derive(Deserialize)]
struct RawSite {
    title: Spanned<String>,
    base_url: Spanned<String>,
    #[serde(default = "default_language")]
    language: String,
    #[serde(default = "default_theme")]
    theme: Spanned<String>,
    #[serde(default = "default_output_dir")]
    output_dir: Spanned<String>,
    scheme: RawScheme,
    #[serde(default)]
    fields: Vec<RawField>,
    #[serde(default)]
    images: RawImages,
    #[serde(default)]
    requests: RawRequests,
    #[serde(default)]
    email: RawEmail,
}

fn default_language() -> String {
    "en".into()
}
fn default_theme() -> Spanned<String> {
    Spanned::new(0..0, "default".into())
}
fn default_output_dir() -> Spanned<String> {
    Spanned::new(0..0, "public".into())
}

#[derive(Deserialize)]
struct RawScheme {
    admin_email: Spanned<String>,
    #[serde(default = "default_sessions")]
    sessions_offered: u32,
    #[serde(default = "default_window")]
    window_months: u32,
    #[serde(default = "default_response_days")]
    response_working_days: Spanned<u32>,
    #[serde(default = "default_reminder_days")]
    reminder_working_days: Spanned<u32>,
    #[serde(default = "default_time_zone")]
    time_zone: Spanned<String>,
    #[serde(default)]
    holidays: Vec<Spanned<String>>,
    #[serde(default = "default_first_session_days")]
    first_session_days: Spanned<u32>,
    #[serde(default)]
    meeting_modes: Option<Spanned<Vec<String>>>,
}

fn default_first_session_days() -> Spanned<u32> {
    Spanned::new(0..0, 21)
}

fn default_sessions() -> u32 {
    4
}
fn default_window() -> u32 {
    6
}
fn default_response_days() -> Spanned<u32> {
    Spanned::new(0..0, 5)
}
fn default_reminder_days() -> Spanned<u32> {
    Spanned::new(0..0, 3)
}
fn default_time_zone() -> Spanned<String> {
    Spanned::new(0..0, "Europe/London".into())
}

#[derive(Deserialize)]
struct RawField {
    key: Spanned<String>,
    label: Option<String>,
    #[serde(rename = "type", default = "default_kind")]
    kind: Spanned<FieldKind>,
    #[serde(default)]
    required: bool,
    #[serde(default = "default_false")]
    filter: Spanned<bool>,
    #[serde(default)]
    private: bool,
    #[serde(default = "default_false")]
    card: Spanned<bool>,
    values: Option<Spanned<Vec<Spanned<String>>>>,
    help: Option<String>,
}

fn default_false() -> Spanned<bool> {
    Spanned::new(0..0, false)
}

fn default_kind() -> Spanned<FieldKind> {
    Spanned::new(0..0, FieldKind::Text)
}

#[derive(Deserialize)]
struct RawImages {
    #[serde(default = "default_sizes")]
    sizes: Spanned<Vec<u32>>,
    #[serde(default = "default_formats")]
    formats: Spanned<Vec<String>>,
    #[serde(default = "default_quality")]
    quality: Spanned<u32>,
}

impl Default for RawImages {
    fn default() -> Self {
        Self {
            sizes: default_sizes(),
            formats: default_formats(),
            quality: default_quality(),
        }
    }
}

fn default_sizes() -> Spanned<Vec<u32>> {
    Spanned::new(0..0, vec![160, 320, 640])
}
fn default_formats() -> Spanned<Vec<String>> {
    Spanned::new(0..0, vec!["webp".into(), "jpg".into()])
}
fn default_quality() -> Spanned<u32> {
    Spanned::new(0..0, 82)
}

#[derive(Deserialize)]
struct RawRequests {
    #[serde(default = "default_url")]
    url: Spanned<String>,
    #[serde(default)]
    allowed_origins: Vec<Spanned<String>>,
    #[serde(default)]
    trusted_proxies: Vec<Spanned<String>>,
    database: Option<Spanned<String>>,
    retention_days: Option<Spanned<u32>>,
    follow_minutes: Option<Spanned<u32>>,
}

impl Default for RawRequests {
    fn default() -> Self {
        Self {
            url: default_url(),
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            database: None,
            retention_days: None,
            follow_minutes: None,
        }
    }
}

fn default_url() -> Spanned<String> {
    Spanned::new(0..0, String::new())
}

#[derive(Deserialize)]
struct RawEmail {
    from: Option<Spanned<String>>,
    #[serde(default = "default_transport")]
    transport: Transport,
    outbox_dir: Option<Spanned<String>>,
    smtp: Option<RawSmtp>,
}

impl Default for RawEmail {
    fn default() -> Self {
        Self {
            from: None,
            transport: default_transport(),
            outbox_dir: None,
            smtp: None,
        }
    }
}

fn default_transport() -> Transport {
    Transport::File
}

#[derive(Deserialize)]
struct RawSmtp {
    #[serde(default)]
    host: String,
    #[serde(default = "default_port")]
    port: u16,
    #[serde(default)]
    username: String,
    #[serde(default = "default_tls")]
    tls: Tls,
    #[serde(default = "default_smtp_timeout")]
    timeout_seconds: u32,
}

fn default_smtp_timeout() -> u32 {
    30
}

fn default_port() -> u16 {
    587
}
fn default_tls() -> Tls {
    Tls::Starttls
}

// ---------------------------------------------------------------------------------------------
// Validation

struct Checker<'a> {
    src: &'a str,
    path: &'a Path,
    diags: &'a mut Diagnostics,
}

impl Checker<'_> {
    fn pos(&self, span: Range<usize>) -> Pos {
        Pos::of_offset(self.src, span.start)
    }

    fn error(&mut self, span: Range<usize>, message: impl Into<String>, hint: impl Into<String>) {
        let d = Diagnostic::error(self.path, self.pos(span), message).with_hint(hint);
        self.diags.push(d);
    }
}

fn validate(raw: RawSite, src: &str, path: &Path, diags: &mut Diagnostics) -> Config {
    let mut c = Checker { src, path, diags };

    if raw.title.get_ref().trim().is_empty() {
        c.error(
            raw.title.span(),
            "`title` is empty",
            "give the scheme's name, e.g. title = \"Returners' Peer Mentoring\"",
        );
    }
    let base_url = raw
        .base_url
        .get_ref()
        .trim()
        .trim_end_matches('/')
        .to_string();
    if !is_http_url(&base_url) {
        c.error(
            raw.base_url.span(),
            format!("`base_url` must be an http(s) address, not `{}`", raw.base_url.get_ref()),
            "write the address where the site will be published, e.g. \"https://mentors.example.org\"",
        );
    }
    let theme = raw.theme.get_ref().clone();
    if theme.is_empty() || theme.contains(['/', '\\']) || theme.starts_with('.') {
        c.error(
            raw.theme.span(),
            format!("`theme` must be a folder name under themes/, not `{theme}`"),
            "use theme = \"default\" or the name of a folder in themes/",
        );
    }
    let output_dir = PathBuf::from(raw.output_dir.get_ref());
    // Where it leads (`.`, `a/..`, a symlink to the root) is vetted before a build writes.
    if raw.output_dir.get_ref().trim().is_empty() {
        c.error(
            raw.output_dir.span(),
            "`output_dir` must be a folder of its own",
            "use output_dir = \"public\"; the build deletes files there that it did not write",
        );
    }

    let scheme = validate_scheme(raw.scheme, &mut c);
    let fields = validate_fields(raw.fields, &mut c);
    let images = validate_images(raw.images, &mut c);
    let requests = validate_requests(raw.requests, &base_url, &mut c);
    let email = validate_email(raw.email, &mut c);

    Config {
        title: raw.title.into_inner().trim().to_string(),
        base_url,
        language: raw.language,
        theme,
        output_dir,
        scheme,
        fields,
        images,
        requests,
        email,
    }
}

fn validate_scheme(raw: RawScheme, c: &mut Checker) -> Scheme {
    if !is_email(raw.admin_email.get_ref()) {
        c.error(
            raw.admin_email.span(),
            format!(
                "`admin_email` is not an email address: `{}`",
                raw.admin_email.get_ref()
            ),
            "write the admin team's inbox, e.g. \"peer.mentoring@example.org\"",
        );
    }
    let response = *raw.response_working_days.get_ref();
    let reminder = *raw.reminder_working_days.get_ref();
    if response == 0 {
        c.error(
            raw.response_working_days.span(),
            "`response_working_days` must be at least 1",
            "mentors need time to answer; the usual rule is 5 working days",
        );
    }
    if reminder == 0 || reminder >= response.max(1) {
        c.error(
            raw.reminder_working_days.span(),
            format!(
                "`reminder_working_days` ({reminder}) must be at least 1 and less than `response_working_days` ({response})"
            ),
            "the reminder goes out before the deadline, e.g. 3 of 5 working days",
        );
    }
    let time_zone = match jiff::tz::TimeZone::get(raw.time_zone.get_ref()) {
        Ok(tz) => tz,
        Err(_) => {
            c.error(
                raw.time_zone.span(),
                format!("unknown time zone `{}`", raw.time_zone.get_ref()),
                "use a name from the IANA time zone database, e.g. \"Europe/London\"",
            );
            jiff::tz::TimeZone::UTC
        }
    };
    let mut holidays = Vec::new();
    for h in &raw.holidays {
        match h.get_ref().parse::<Date>() {
            Ok(d) => holidays.push(d),
            Err(_) => c.error(
                h.span(),
                format!("`{}` in `holidays` is not a date", h.get_ref()),
                "write dates as YYYY-MM-DD, e.g. \"2026-12-25\"",
            ),
        }
    }
    holidays.sort();
    holidays.dedup();
    let first_session_days = *raw.first_session_days.get_ref();
    if first_session_days == 0 {
        c.error(
            raw.first_session_days.span(),
            "`first_session_days` must be at least 1",
            "the nudge goes when no session is recorded this many working days after a match, e.g. 21",
        );
    }
    let meeting_modes = match raw.meeting_modes {
        None => DEFAULT_MEETING_MODES.map(String::from).to_vec(),
        Some(modes) => {
            let list: Vec<String> = modes
                .get_ref()
                .iter()
                .map(|m| m.trim().to_string())
                .collect();
            if list.is_empty()
                || list
                    .iter()
                    .any(|m| m.is_empty() || m.chars().any(char::is_control))
            {
                c.error(
                    modes.span(),
                    "`meeting_modes` needs at least one way of meeting, each a few words",
                    "e.g. meeting_modes = [\"In person\", \"Video\", \"Phone\"]",
                );
            }
            list
        }
    };
    Scheme {
        admin_email: raw.admin_email.into_inner(),
        sessions_offered: raw.sessions_offered,
        window_months: raw.window_months,
        response_working_days: response,
        reminder_working_days: reminder,
        time_zone,
        time_zone_name: raw.time_zone.into_inner(),
        holidays,
        first_session_days,
        meeting_modes,
    }
}

fn validate_fields(raw: Vec<RawField>, c: &mut Checker) -> Vec<FieldDef> {
    let mut seen = BTreeSet::new();
    let mut fields = Vec::new();
    let mut cards = 0;
    for f in raw {
        let key = f.key.get_ref().clone();
        let key_span = f.key.span();
        if !is_field_key(&key) {
            c.error(
                key_span.clone(),
                format!("field key `{key}` must be lower-case letters, digits and `_`"),
                format!("e.g. key = \"{}\"", to_field_key(&key)),
            );
        } else if BUILTIN_KEYS.contains(&key.as_str()) {
            c.error(
                key_span.clone(),
                format!("`{key}` is built in and cannot be declared in [[fields]]"),
                format!("built-in keys: {}", BUILTIN_KEYS.join(", ")),
            );
        } else if !seen.insert(key.clone()) {
            c.error(
                key_span.clone(),
                format!("field `{key}` is declared twice"),
                "keep one [[fields]] table per key",
            );
        }
        let kind = *f.kind.get_ref();
        let mut values = None;
        if let Some(v) = &f.values {
            if !matches!(kind, FieldKind::Text | FieldKind::List) {
                c.error(
                    v.span(),
                    format!(
                        "field `{key}` is of type {} and cannot list `values`",
                        kind.as_str()
                    ),
                    "allowed values only apply to text and list fields",
                );
            } else if v.get_ref().is_empty() {
                c.error(
                    v.span(),
                    format!("field `{key}` has an empty `values` list"),
                    "list the allowed values, or remove `values` to allow any",
                );
            } else {
                let mut distinct = BTreeSet::new();
                for value in v.get_ref() {
                    if !distinct.insert(value.get_ref().as_str()) {
                        c.error(
                            value.span(),
                            format!(
                                "`{}` is listed twice in the values of `{key}`",
                                value.get_ref()
                            ),
                            "remove the repeated value",
                        );
                    }
                }
                values = Some(v.get_ref().iter().map(|s| s.get_ref().clone()).collect());
            }
        }
        if f.private && *f.filter.get_ref() {
            c.error(
                f.filter.span(),
                format!("field `{key}` is private and cannot be a filter"),
                "a filter publishes its values on the register; remove `filter = true` or `private = true`",
            );
        }
        if f.private && *f.card.get_ref() {
            c.error(
                f.card.span(),
                format!("field `{key}` is private and cannot be on the card"),
                "the card is published on the register; remove `card = true` or `private = true`",
            );
        }
        if *f.card.get_ref() {
            cards += 1;
            if cards == MAX_CARD_FIELDS + 1 {
                c.error(
                    f.card.span(),
                    format!("`{key}` is the {}th field with `card = true`", MAX_CARD_FIELDS + 1),
                    format!("a card shows at most {MAX_CARD_FIELDS} fields, so it stays short on a phone; keep `card = true` on the ones a mentee chooses by"),
                );
            }
        }
        let label = f.label.unwrap_or_else(|| default_label(&key));
        fields.push(FieldDef {
            key,
            label,
            kind,
            required: f.required,
            filter: *f.filter.get_ref(),
            private: f.private,
            card: *f.card.get_ref(),
            values,
            help: f.help,
        });
    }
    // A scheme that chose none: the first two filters.
    if cards == 0 {
        for f in fields.iter_mut().filter(|f| f.filter).take(2) {
            f.card = true;
        }
    }
    fields
}

/// Fields a card may show.
pub const MAX_CARD_FIELDS: usize = 3;

const IMAGE_FORMATS: &[&str] = &["webp", "jpg", "png"];

fn validate_images(raw: RawImages, c: &mut Checker) -> Images {
    let sizes = raw.sizes.get_ref().clone();
    if sizes.is_empty() || sizes.iter().any(|s| !(16..=4096).contains(s)) {
        c.error(
            raw.sizes.span(),
            "`sizes` must list image widths between 16 and 4096 pixels",
            "e.g. sizes = [160, 320, 640]",
        );
    }
    let formats = raw.formats.get_ref().clone();
    for f in &formats {
        if f == "avif" {
            c.error(
                raw.formats.span(),
                "AVIF headshots are not supported yet",
                "use formats = [\"webp\", \"jpg\"]: WebP is as small for photos of this size and every browser shows it",
            );
        } else if !IMAGE_FORMATS.contains(&f.as_str()) {
            let mut hint = format!("formats are {}", IMAGE_FORMATS.join(", "));
            if let Some(m) = did_you_mean(f, IMAGE_FORMATS.iter().copied()) {
                hint = format!("{m} ({hint})");
            }
            c.error(
                raw.formats.span(),
                format!("unknown image format `{f}`"),
                hint,
            );
        }
    }
    if formats.is_empty() {
        c.error(
            raw.formats.span(),
            "`formats` is empty",
            "e.g. formats = [\"webp\", \"jpg\"]",
        );
    }
    let quality = *raw.quality.get_ref();
    if !(1..=100).contains(&quality) {
        c.error(
            raw.quality.span(),
            format!("`quality` must be between 1 and 100, not {quality}"),
            "80 to 85 keeps faces sharp at a small size",
        );
    }
    let mut sizes = sizes;
    sizes.sort_unstable();
    sizes.dedup();
    Images {
        sizes,
        formats,
        quality: quality.clamp(1, 100) as u8,
    }
}

fn validate_requests(raw: RawRequests, base_url: &str, c: &mut Checker) -> Requests {
    let url = raw.url.get_ref().trim().trim_end_matches('/').to_string();
    if !url.is_empty() && !is_http_url(&url) {
        c.error(
            raw.url.span(),
            format!(
                "`url` must be an http(s) address or \"\", not `{}`",
                raw.url.get_ref()
            ),
            "write where the request service runs, or \"\" when it shares the site's address",
        );
    }
    let mut allowed_origins = Vec::new();
    for o in &raw.allowed_origins {
        let origin = o.get_ref().trim().trim_end_matches('/').to_string();
        if !is_http_url(&origin) || origin.matches('/').count() > 2 {
            c.error(
                o.span(),
                format!("`{}` is not an origin", o.get_ref()),
                "an origin is a scheme and host with no path, e.g. \"https://mentors.example.org\"",
            );
        }
        allowed_origins.push(origin);
    }
    if allowed_origins.is_empty() {
        allowed_origins.push(origin_of(base_url));
    }
    let mut trusted_proxies = Vec::new();
    for p in &raw.trusted_proxies {
        match p.get_ref().trim().parse::<std::net::IpAddr>() {
            Ok(ip) => trusted_proxies.push(ip),
            Err(_) => c.error(
                p.span(),
                format!("`{}` is not an IP address", p.get_ref()),
                "list the addresses the proxy connects from, e.g. [\"127.0.0.1\", \"::1\"]",
            ),
        }
    }
    let database = raw
        .database
        .map_or_else(|| "data/requests.sqlite".to_string(), Spanned::into_inner);
    let retention_days = match raw.retention_days {
        Some(d) if *d.get_ref() == 0 => {
            c.error(
                d.span(),
                "`retention_days` must be at least 1",
                "requests are kept this many days after they close, e.g. 365",
            );
            365
        }
        Some(d) => d.into_inner(),
        None => 365,
    };
    let follow_minutes = match raw.follow_minutes {
        Some(m) if *m.get_ref() == 0 => {
            c.error(
                m.span(),
                "`follow_minutes` must be at least 1",
                "how often `endpoint --follow` fetches without a push hook, e.g. 10",
            );
            10
        }
        Some(m) => m.into_inner(),
        None => 10,
    };
    Requests {
        follow_minutes,
        url,
        allowed_origins,
        trusted_proxies,
        database: PathBuf::from(database),
        retention_days,
    }
}

fn validate_email(raw: RawEmail, c: &mut Checker) -> Email {
    let from = match raw.from {
        Some(from) => {
            if !is_email(mailbox_address(from.get_ref())) {
                c.error(
                    from.span(),
                    format!("`from` is not a mailbox: `{}`", from.get_ref()),
                    "write \"Scheme Name <no-reply@example.org>\" or just the address",
                );
            }
            from.into_inner()
        }
        None => "Peer Mentoring <no-reply@example.org>".to_string(),
    };
    let outbox_dir = raw
        .outbox_dir
        .map_or_else(|| "outbox".to_string(), Spanned::into_inner);
    let smtp = raw.smtp.map_or(
        Smtp {
            host: String::new(),
            port: 587,
            username: String::new(),
            tls: Tls::Starttls,
            timeout_seconds: default_smtp_timeout(),
        },
        |s| Smtp {
            host: s.host,
            port: s.port,
            username: s.username,
            tls: s.tls,
            timeout_seconds: s.timeout_seconds.clamp(1, 600),
        },
    );
    Email {
        from,
        transport: raw.transport,
        outbox_dir: PathBuf::from(outbox_dir),
        smtp,
    }
}

/// The error for a key serde did not expect, at the key's own line.
fn unknown_key(src: &str, path: &Path, key_path: &str) -> Diagnostic {
    let segments: Vec<&str> = key_path.split('.').collect();
    let key = segments.last().copied().unwrap_or(key_path);
    let parent: Vec<&str> = segments[..segments.len().saturating_sub(1)]
        .iter()
        .copied()
        .filter(|s| s.parse::<usize>().is_err())
        .collect();
    let known = known_keys(&parent);
    let pos = find_key(src, &segments).unwrap_or(Pos::START);
    let section = if parent.is_empty() {
        "the top level".to_string()
    } else if parent == ["fields"] {
        "[[fields]]".to_string()
    } else {
        format!("[{}]", parent.join("."))
    };
    let hint = did_you_mean(key, known.iter().copied())
        .unwrap_or_else(|| format!("keys allowed in {section}: {}", known.join(", ")));
    Diagnostic::error(path, pos, format!("unknown key `{key}` in {section}")).with_hint(hint)
}

fn known_keys(parent: &[&str]) -> &'static [&'static str] {
    match parent {
        [] => &[
            "title",
            "base_url",
            "language",
            "theme",
            "output_dir",
            "scheme",
            "fields",
            "images",
            "requests",
            "email",
        ],
        ["scheme"] => &[
            "admin_email",
            "sessions_offered",
            "window_months",
            "response_working_days",
            "reminder_working_days",
            "time_zone",
            "holidays",
            "first_session_days",
            "meeting_modes",
        ],
        ["fields"] => &[
            "key", "label", "type", "required", "filter", "private", "card", "values", "help",
        ],
        ["images"] => &["sizes", "formats", "quality"],
        ["requests"] => &[
            "url",
            "allowed_origins",
            "trusted_proxies",
            "database",
            "retention_days",
            "follow_minutes",
        ],
        ["email"] => &["from", "transport", "outbox_dir", "smtp"],
        ["email", "smtp"] => &["host", "port", "username", "tls", "timeout_seconds"],
        _ => &[],
    }
}

/// Find the span of a key by its dotted path (array items by index) in the parsed document.
fn find_key(src: &str, segments: &[&str]) -> Option<Pos> {
    use toml::de::{DeTable, DeValue};
    let doc = DeTable::parse(src).ok()?;
    let mut table: &DeTable = doc.get_ref();
    let mut i = 0;
    while i < segments.len() {
        let (k, v) = table.get_key_value(segments[i])?;
        if i + 1 == segments.len() {
            return Some(Pos::of_offset(src, k.span().start));
        }
        match v.get_ref() {
            DeValue::Table(t) => table = t,
            DeValue::Array(items) => {
                let idx: usize = segments.get(i + 1)?.parse().ok()?;
                match items.get(idx)?.get_ref() {
                    DeValue::Table(t) => table = t,
                    _ => return None,
                }
                i += 1;
            }
            _ => return None,
        }
        i += 1;
    }
    None
}

pub fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split('/').next().unwrap_or("");
        !host.is_empty() && !r.contains(char::is_whitespace)
    })
}

/// `https://host/path` → `https://host`.
pub fn origin_of(url: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    match url[scheme_end..].find('/') {
        Some(i) => url[..scheme_end + i].to_string(),
        None => url.to_string(),
    }
}

/// A deliverable address by the one rule ([`crate::address`]).
pub fn is_email(s: &str) -> bool {
    crate::address::is_valid(s)
}

/// `Name <addr@x>` → `addr@x`; a bare address is returned as it is.
pub fn mailbox_address(s: &str) -> &str {
    match (s.rfind('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => s[a + 1..b].trim(),
        _ => s.trim(),
    }
}

fn is_field_key(s: &str) -> bool {
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn to_field_key(s: &str) -> String {
    let slug = crate::slug::slugify(s).replace('-', "_");
    if slug.is_empty() {
        "my_field".into()
    } else {
        slug
    }
}

fn default_label(key: &str) -> String {
    let words = key.replace('_', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
title = "T"
base_url = "https://mentors.example.org/"
[scheme]
admin_email = "admin@example.org"
"#;

    fn errors(src: &str) -> String {
        Config::parse(src, Path::new("site.toml"))
            .expect_err("should fail")
            .render_text()
    }

    #[test]
    fn the_match_keys_have_defaults_and_are_checked() {
        let c = Config::parse(MINIMAL, Path::new("site.toml")).unwrap();
        assert_eq!(c.scheme.first_session_days, 21);
        assert_eq!(c.scheme.meeting_modes, ["video", "phone", "in person"]);
        let c = Config::parse(
            &format!(
                "{MINIMAL}first_session_days = 10\nmeeting_modes = [\" In person \", \"Video\"]\n"
            ),
            Path::new("site.toml"),
        )
        .unwrap();
        assert_eq!(c.scheme.first_session_days, 10);
        assert_eq!(c.scheme.meeting_modes, ["In person", "Video"]);
        let e = errors(&format!(
            "{MINIMAL}first_session_days = 0\nmeeting_modes = []\n"
        ));
        assert!(e.contains("`first_session_days` must be at least 1"), "{e}");
        assert!(
            e.contains("`meeting_modes` needs at least one way of meeting"),
            "{e}"
        );
        let e = errors(&format!("{MINIMAL}first_sesion_days = 3\n"));
        assert!(e.contains("unknown key `first_sesion_days`"), "{e}");
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = Config::parse(MINIMAL, Path::new("site.toml")).unwrap();
        assert_eq!(c.base_url, "https://mentors.example.org");
        assert_eq!(c.theme, "default");
        assert_eq!(c.scheme.response_working_days, 5);
        assert_eq!(c.images.sizes, vec![160, 320, 640]);
        assert_eq!(
            c.requests.allowed_origins,
            vec!["https://mentors.example.org"]
        );
        assert_eq!(c.request_action(), "/requests");
    }

    #[test]
    fn every_unknown_key_is_reported_with_its_line() {
        let src = format!("tittle = 1\n{MINIMAL}[images]\nqualty = 80\n");
        let text = errors(&src);
        assert!(
            text.contains("site.toml:1:1: error: unknown key `tittle` in the top level"),
            "{text}"
        );
        assert!(text.contains("did you mean `title`?"), "{text}");
        assert!(
            text.contains("site.toml:8:1: error: unknown key `qualty` in [images]"),
            "{text}"
        );
    }

    #[test]
    fn field_problems_are_all_collected() {
        let src = format!(
            "{MINIMAL}[[fields]]\nkey = \"email\"\n[[fields]]\nkey = \"notes\"\nprivate = true\nfilter = true\n[[fields]]\nkey = \"x\"\ntype = \"bool\"\nvalues = [\"a\"]\n"
        );
        let text = errors(&src);
        assert!(text.contains("`email` is built in"), "{text}");
        assert!(text.contains("is private and cannot be a filter"), "{text}");
        assert!(text.contains("cannot list `values`"), "{text}");
    }

    #[test]
    fn a_card_shows_at_most_three_public_fields_and_defaults_to_the_first_two_filters() {
        let fields = |extra: &str| {
            (1..=5)
                .map(|i| format!("[[fields]]\nkey = \"f{i}\"\nfilter = true\n{extra}"))
                .collect::<String>()
        };
        let text = errors(&format!("{MINIMAL}{}", fields("card = true\n")));
        assert!(
            text.contains("`f4` is the 4th field with `card = true`"),
            "{text}"
        );
        assert!(!text.contains("`f5` is the"), "said once: {text}");
        let text = errors(&format!(
            "{MINIMAL}[[fields]]\nkey = \"notes\"\nprivate = true\ncard = true\n"
        ));
        assert!(
            text.contains("is private and cannot be on the card"),
            "{text}"
        );
        let config = Config::parse(&format!("{MINIMAL}{}", fields("")), Path::new("site.toml"))
            .expect("valid");
        let on_card: Vec<&str> = config
            .fields
            .iter()
            .filter(|f| f.card)
            .map(|f| f.key.as_str())
            .collect();
        assert_eq!(on_card, ["f1", "f2"]);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let text = errors("title = \"unterminated\nbase_url = 1\n");
        assert!(text.starts_with("site.toml:1:"), "{text}");
        assert!(text.contains("invalid TOML"), "{text}");
    }

    #[test]
    fn mailbox_address_takes_the_angle_part() {
        assert_eq!(
            mailbox_address("Peer Mentoring <no-reply@example.org>"),
            "no-reply@example.org"
        );
        assert!(is_email("a.b@example.org"));
        assert!(!is_email("a.b@localhost"));
        assert!(!is_email("not an email"));
    }
}
