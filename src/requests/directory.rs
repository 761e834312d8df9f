//! The mentor directory: what the service knows of each mentor, by slug, from the register.
//! Recipients are looked up here when mail is composed and sent, never taken from a form.

use std::collections::BTreeMap;

use jiff::civil::Date;
use parking_lot::RwLock;

use super::kinds::Recipient;
use crate::register::Register;

/// One mentor as the request service sees them.
#[derive(Debug, Clone)]
pub struct Contact {
    pub name: String,
    pub email: String,
    /// The profile page's full address.
    pub url: String,
    pub accepting: bool,
    pub away_until: Option<Date>,
    /// Private: given to a mentee only when the mentor accepts.
    pub phone: Option<String>,
    pub capacity: Option<u32>,
}

impl Contact {
    /// Taking requests today?
    pub fn available(&self, today: Date) -> bool {
        self.accepting && self.away_until.is_none_or(|d| d <= today)
    }
}

/// Mentors by slug, replaced whole when the content changes.
pub struct Directory {
    mentors: RwLock<BTreeMap<String, Contact>>,
    admin: String,
}

impl Directory {
    pub fn new(register: &Register, base_url: &str, admin: &str) -> Directory {
        Directory {
            mentors: RwLock::new(contacts(register, base_url)),
            admin: admin.to_string(),
        }
    }

    /// Replace every mentor's details (at start, and when the content changes).
    pub fn reload(&self, register: &Register, base_url: &str) {
        *self.mentors.write() = contacts(register, base_url);
    }

    pub fn get(&self, slug: &str) -> Option<Contact> {
        self.mentors.read().get(slug).cloned()
    }

    /// The address behind a recipient, or `None` for a mentor no longer on the register.
    pub fn address_of(&self, to: &Recipient) -> Option<String> {
        match to {
            Recipient::Mentor(slug) => self.mentors.read().get(slug).map(|c| c.email.clone()),
            Recipient::Admin => Some(self.admin.clone()),
            Recipient::Mentee(address) => Some(address.clone()),
        }
    }

    pub fn admin(&self) -> &str {
        &self.admin
    }
}

fn contacts(register: &Register, base: &str) -> BTreeMap<String, Contact> {
    register
        .mentors
        .iter()
        .map(|m| {
            let contact = Contact {
                name: m.name.clone(),
                email: m.email.clone(),
                url: format!("{base}/mentors/{}/", m.slug),
                accepting: m.accepting,
                away_until: m.away_until,
                phone: m.phone.clone(),
                capacity: m.capacity,
            };
            (m.slug.clone(), contact)
        })
        .collect()
}
