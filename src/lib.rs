//! mentorsite: a peer-mentoring scheme's register of mentors and handbook as a static site.
//!
//! The build flows one way: `content/` files → raw documents ([`content`]) → a validated
//! register ([`register`]) → rendered pages ([`render`]) → the output folder ([`site`]).
//! Problems anywhere become [`diag::Diagnostic`]s, all collected before anything is written.
//!
//! The request service flows one way too: a form post ([`web`], HTTP only) → a checked request
//! and the lifecycle's rules ([`requests::desk`]) → the SQLite store with its outbox
//! ([`requests::store`]) → the worker that claims and sends each mail ([`outbox`]) → [`mail`].
//! [`service`] runs them as one process; [`live`] is `serve`'s development server.

pub mod address;
pub mod config;
pub mod content;
pub mod diag;
pub mod follow;
pub mod images;
pub mod live;
pub mod log;
pub mod mail;
pub mod outbox;
pub mod register;
pub mod render;
pub mod requests;
pub mod scaffold;
pub mod service;
pub mod sink;
pub mod site;
pub mod slug;
pub mod web;
