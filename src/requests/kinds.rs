//! The words of the request lifecycle as types: a request's [`Status`], the [`MailKind`]s it
//! causes and who each goes to ([`Recipient`]). The store keeps them as text; they are parsed
//! on the way out, so a misspelt state cannot creep in.

use std::fmt;
use std::str::FromStr;

/// Where a request stands. `pending → accepted | declined | lapsed | withdrawn`, and
/// `accepted → completed` (the sessions used, the window ended, or either side ended it);
/// `requests extend` opens a completed match again (`completed → accepted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Pending,
    Accepted,
    Declined,
    Lapsed,
    Withdrawn,
    Completed,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Pending,
        Status::Accepted,
        Status::Declined,
        Status::Lapsed,
        Status::Withdrawn,
        Status::Completed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Accepted => "accepted",
            Status::Declined => "declined",
            Status::Lapsed => "lapsed",
            Status::Withdrawn => "withdrawn",
            Status::Completed => "completed",
        }
    }

    /// Closed requests are kept only for the retention period.
    /// The state in the admin's words.
    pub fn describe(self) -> &'static str {
        match self {
            Status::Pending => "waiting for the mentor's answer",
            Status::Accepted => "accepted by the mentor",
            Status::Declined => "declined by the mentor",
            Status::Lapsed => "lapsed: the mentor did not answer in time",
            Status::Withdrawn => "withdrawn by the mentee",
            Status::Completed => "completed: the mentoring has ended",
        }
    }

    pub fn is_closed(self) -> bool {
        matches!(
            self,
            Status::Declined | Status::Lapsed | Status::Withdrawn | Status::Completed
        )
    }
}

/// Each kind is a set of templates in the theme's `emails/`: `<kind>.subject.txt`,
/// `<kind>.txt` and optionally `<kind>.html`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MailKind {
    /// The request itself, with the respond link.
    Mentor,
    /// The admin inbox's copy of a request.
    Admin,
    /// The mentee's acknowledgement.
    Mentee,
    AcceptedMentee,
    AcceptedMentor,
    AcceptedAdmin,
    DeclinedMentee,
    DeclinedAdmin,
    ReminderMentor,
    LapsedMentee,
    LapsedMentor,
    LapsedAdmin,
    WithdrawnMentor,
    WithdrawnAdmin,
    /// The mentor's copy of a request could not be delivered: the admin is told instead of the
    /// request lapsing as unanswered.
    UnreachedAdmin,
    /// A mentor ticked the concern box: to the admin at once, marked for attention.
    ConcernAdmin,
    /// No session recorded within `first_session_days` of the match.
    NudgeMentor,
    CompletedMentee,
    CompletedMentor,
    CompletedAdmin,
    /// The mentee's feedback, to the admin.
    FeedbackAdmin,
    ExtendedMentee,
    ExtendedMentor,
}

impl MailKind {
    pub const ALL: [MailKind; 23] = [
        MailKind::Mentor,
        MailKind::Admin,
        MailKind::Mentee,
        MailKind::AcceptedMentee,
        MailKind::AcceptedMentor,
        MailKind::AcceptedAdmin,
        MailKind::DeclinedMentee,
        MailKind::DeclinedAdmin,
        MailKind::ReminderMentor,
        MailKind::LapsedMentee,
        MailKind::LapsedMentor,
        MailKind::LapsedAdmin,
        MailKind::WithdrawnMentor,
        MailKind::WithdrawnAdmin,
        MailKind::UnreachedAdmin,
        MailKind::ConcernAdmin,
        MailKind::NudgeMentor,
        MailKind::CompletedMentee,
        MailKind::CompletedMentor,
        MailKind::CompletedAdmin,
        MailKind::FeedbackAdmin,
        MailKind::ExtendedMentee,
        MailKind::ExtendedMentor,
    ];

    /// The template name, and the word stored in the outbox.
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Mentor => "mentor",
            MailKind::Admin => "admin",
            MailKind::Mentee => "mentee",
            MailKind::AcceptedMentee => "accepted_mentee",
            MailKind::AcceptedMentor => "accepted_mentor",
            MailKind::AcceptedAdmin => "accepted_admin",
            MailKind::DeclinedMentee => "declined_mentee",
            MailKind::DeclinedAdmin => "declined_admin",
            MailKind::ReminderMentor => "reminder_mentor",
            MailKind::LapsedMentee => "lapsed_mentee",
            MailKind::LapsedMentor => "lapsed_mentor",
            MailKind::LapsedAdmin => "lapsed_admin",
            MailKind::WithdrawnMentor => "withdrawn_mentor",
            MailKind::WithdrawnAdmin => "withdrawn_admin",
            MailKind::UnreachedAdmin => "unreached_admin",
            MailKind::ConcernAdmin => "concern_admin",
            MailKind::NudgeMentor => "nudge_mentor",
            MailKind::CompletedMentee => "completed_mentee",
            MailKind::CompletedMentor => "completed_mentor",
            MailKind::CompletedAdmin => "completed_admin",
            MailKind::FeedbackAdmin => "feedback_admin",
            MailKind::ExtendedMentee => "extended_mentee",
            MailKind::ExtendedMentor => "extended_mentor",
        }
    }

    /// Mail that carries a request to its mentor: while it has not arrived, the mentor cannot
    /// be expected to answer.
    /// The mail in the admin's words, for `requests show`.
    pub fn describe(self) -> &'static str {
        match self {
            MailKind::Mentor => "the request, to the mentor",
            MailKind::Admin => "the admin's copy of the request",
            MailKind::Mentee => "the acknowledgement, to the mentee",
            MailKind::AcceptedMentee => "the mentor's contact details, to the mentee",
            MailKind::AcceptedMentor => "the confirmation of accepting, to the mentor",
            MailKind::AcceptedAdmin => "the admin's note that the mentor accepted",
            MailKind::DeclinedMentee => "the news of the decline, to the mentee",
            MailKind::DeclinedAdmin => "the admin's note that the mentor declined",
            MailKind::ReminderMentor => "the reminder, to the mentor",
            MailKind::LapsedMentee => "the news that it lapsed, to the mentee",
            MailKind::LapsedMentor => "the news that it lapsed, to the mentor",
            MailKind::LapsedAdmin => "the admin's note that it lapsed",
            MailKind::WithdrawnMentor => "the news of the withdrawal, to the mentor",
            MailKind::WithdrawnAdmin => "the admin's note of the withdrawal",
            MailKind::UnreachedAdmin => "the admin's warning that the mentor was not reached",
            MailKind::ConcernAdmin => "the mentor's concern, to the admin (marked for attention)",
            MailKind::NudgeMentor => "the nudge to record a first session, to the mentor",
            MailKind::CompletedMentee => "the thanks and the feedback link, to the mentee",
            MailKind::CompletedMentor => "the thanks at the end, to the mentor",
            MailKind::CompletedAdmin => "the admin's note that the mentoring ended",
            MailKind::FeedbackAdmin => "the mentee's feedback, to the admin",
            MailKind::ExtendedMentee => "the news of more sessions, to the mentee",
            MailKind::ExtendedMentor => "the news of more sessions, to the mentor",
        }
    }

    /// Mail the scheme's team should read today: sent with `Importance: high`.
    pub fn is_urgent(self) -> bool {
        self == MailKind::ConcernAdmin
    }

    /// Kinds that may be sent more than once for one request (each concern, each extension,
    /// each end after an extension): their Message-IDs carry what occasioned them.
    pub fn repeats(self) -> bool {
        matches!(
            self,
            MailKind::ConcernAdmin
                | MailKind::CompletedMentee
                | MailKind::CompletedMentor
                | MailKind::CompletedAdmin
                | MailKind::ExtendedMentee
                | MailKind::ExtendedMentor
        )
    }

    pub fn reaches_mentor_first(self) -> bool {
        self == MailKind::Mentor
    }
}

/// Who a mail goes to. Mentors and the admin are looked up when the mail is sent (an address
/// changed in a bio applies to mail still waiting); a mentee's address is kept as typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Recipient {
    Mentor(String),
    Admin,
    Mentee(String),
}

impl Recipient {
    /// The role, for logs and `requests show` (never the address).
    pub fn role(&self) -> &'static str {
        match self {
            Recipient::Mentor(_) => "mentor",
            Recipient::Admin => "admin",
            Recipient::Mentee(_) => "mentee",
        }
    }
}

impl fmt::Display for Recipient {
    /// As stored: `mentor:<slug>`, `admin`, or the mentee's address.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recipient::Mentor(slug) => write!(f, "mentor:{slug}"),
            Recipient::Admin => f.write_str("admin"),
            Recipient::Mentee(address) => f.write_str(address),
        }
    }
}

impl FromStr for Recipient {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.strip_prefix("mentor:") {
            Some(slug) => Recipient::Mentor(slug.to_string()),
            None if s == "admin" => Recipient::Admin,
            None => Recipient::Mentee(s.to_string()),
        })
    }
}

/// A word the store holds that no longer names anything (a database written by a newer
/// version, or edited by hand).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{word}` in the request database")]
pub struct UnknownWord {
    pub what: &'static str,
    pub word: String,
}

macro_rules! parse_by_name {
    ($t:ty, $what:literal) => {
        impl FromStr for $t {
            type Err = UnknownWord;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$t>::ALL
                    .into_iter()
                    .find(|k| k.as_str() == s)
                    .ok_or_else(|| UnknownWord {
                        what: $what,
                        word: s.to_string(),
                    })
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

parse_by_name!(Status, "status");
parse_by_name!(MailKind, "mail kind");

/// The form of an address used to find a mentee's other requests: trimmed and lower-cased
/// (mail systems treat `Sam@Example.NET` and `sam@example.net` as one mailbox).
pub fn address_key(address: &str) -> String {
    crate::address::key(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>(), Ok(s));
        }
        for k in MailKind::ALL {
            assert_eq!(k.as_str().parse::<MailKind>(), Ok(k));
        }
        assert_eq!(
            "sent".parse::<Status>().unwrap_err().to_string(),
            "unknown status `sent` in the request database"
        );
        for r in [
            Recipient::Mentor("ada".into()),
            Recipient::Admin,
            Recipient::Mentee("sam@example.net".into()),
        ] {
            assert_eq!(r.to_string().parse::<Recipient>().unwrap(), r);
        }
    }

    #[test]
    fn addresses_are_keyed_case_blind() {
        assert_eq!(address_key(" Sam@Example.NET "), "sam@example.net");
    }
}
