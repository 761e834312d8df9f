//! The sweep: reminders on the reminder day, and lapse after the deadline, counted in working
//! days in the scheme's time zone; then the retention purge. It runs inside the service on a
//! timer and as `mentorsite requests sweep` for a cron job. Each step is a conditional update
//! in an immediate transaction, so sweeps are idempotent and safe when two run at once.

use jiff::civil::Date;

use super::requests::Service;
use super::respond::mails;
use crate::requests::{self, local_date, store::StoreError};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    pub reminded: usize,
    pub lapsed: usize,
    pub purged: usize,
}

pub fn sweep(s: &Service) -> Result<SweepReport, StoreError> {
    let mut report = SweepReport::default();
    let now = s.now();
    let today = s.today();
    let scheme = &s.config.scheme;
    for (r, reminded_at) in s.store.pending()? {
        let Ok(respond_by) = r.respond_by.parse::<Date>() else {
            continue;
        };
        if today > respond_by {
            let list = [
                (
                    "lapsed_mentee",
                    r.email.clone(),
                    Some(scheme.admin_email.clone()),
                ),
                ("lapsed_mentor", format!("mentor:{}", r.mentor), None),
                ("lapsed_admin", "admin".to_string(), None),
            ];
            match mails(s, &r, &list, None, None) {
                Ok(m) if s.store.lapse(&r.id, &m, now)? => {
                    report.lapsed += 1;
                    crate::log::event("request_lapsed", &[("request", &r.id)]);
                }
                Ok(_) => {}
                Err(e) => crate::log::event("sweep_error", &[("request", &r.id), ("error", &e)]),
            }
            continue;
        }
        let created = local_date(r.created_at, &scheme.time_zone);
        let remind_on =
            requests::add_working_days(created, scheme.reminder_working_days, &scheme.holidays);
        if reminded_at.is_none() && today >= remind_on {
            let url = s.respond_url(&r.id);
            let list = [(
                "reminder_mentor",
                format!("mentor:{}", r.mentor),
                Some(r.email.clone()),
            )];
            match mails(s, &r, &list, None, Some(&url)) {
                Ok(m) if s.store.remind(&r.id, &m, now)? => {
                    report.reminded += 1;
                    crate::log::event("request_reminded", &[("request", &r.id)]);
                }
                Ok(_) => {}
                Err(e) => crate::log::event("sweep_error", &[("request", &r.id), ("error", &e)]),
            }
        }
    }
    let keep_from = now - i64::from(s.config.requests.retention_days) * 24 * 3600;
    report.purged = s.store.purge_closed_before(keep_from)?;
    if report != SweepReport::default() {
        s.wake.notify_one();
    }
    Ok(report)
}
