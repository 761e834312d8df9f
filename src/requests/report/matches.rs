//! The report's part after the match: matches by sessions held, days from the match to the
//! first session, how matches ended, extensions, feedback scores and concerns raised (a
//! count; no note, no feedback text, no name reaches it).

use std::fmt::Write as _;

use jiff::civil::Date;
use plotters::prelude::RGBColor;

use super::{ChartError, Context, STATES, bar_chart, local_date, table};
use crate::requests::Status;
use crate::requests::store::{Ended, MatchFacts};

/// The most sessions a bar counts on its own: "8 or more".
const MOST_SESSIONS: usize = 8;
/// Buckets of days to a first session: within a week, two, three, four, and later.
const FIRST_BUCKETS: [(i64, &str); 5] = [
    (7, "Within a week"),
    (14, "8–14 days"),
    (21, "15–21 days"),
    (28, "22–28 days"),
    (i64::MAX, "More than 28 days"),
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchFigures {
    pub total: u32,
    pub running: u32,
    pub completed: u32,
    /// Completed because the sessions were used, the window ended, or one side ended it.
    pub sessions_used: u32,
    pub window_ended: u32,
    pub ended_early: u32,
    /// Matches given at least one more block.
    pub extended: u32,
    /// Matches by sessions held: 0, 1, … 7, and 8 or more.
    pub by_sessions: [u32; MOST_SESSIONS + 1],
    /// Days (calendar) from the match to the first session, bucketed as `FIRST_BUCKETS`.
    pub first_session_days: [u32; 5],
    /// The median of those days, when any session was held.
    pub median_first_session: Option<i64>,
    /// Feedback scores 1 to 5.
    pub scores: [u32; 5],
    pub concerns: u32,
}

pub fn match_figures(rows: &[MatchFacts], cx: &Context) -> MatchFigures {
    let mut f = MatchFigures::default();
    let mut waits = Vec::new();
    for m in rows {
        f.total += 1;
        match m.status {
            Status::Accepted => f.running += 1,
            // A match withdrawn before this version ended early by the mentee's choice.
            Status::Withdrawn => f.ended_early += 1,
            _ => {}
        }
        if m.status == Status::Completed {
            f.completed += 1;
            match m.ended {
                Some(Ended::SessionsUsed) => f.sessions_used += 1,
                Some(Ended::WindowEnded) => f.window_ended += 1,
                Some(e) if e.is_early() => f.ended_early += 1,
                _ => {}
            }
        }
        if m.extended > 0 {
            f.extended += 1;
        }
        f.by_sessions[(m.sessions as usize).min(MOST_SESSIONS)] += 1;
        if let Some(first) = m
            .first_session
            .as_deref()
            .and_then(|d| d.parse::<Date>().ok())
        {
            let matched = local_date(m.answered_at, cx.time_zone);
            let days = matched
                .until(first)
                .map_or(0, |s| i64::from(s.get_days()))
                .max(0);
            let bucket = FIRST_BUCKETS
                .iter()
                .position(|(most, _)| days <= *most)
                .unwrap_or(FIRST_BUCKETS.len() - 1);
            f.first_session_days[bucket] += 1;
            waits.push(days);
        }
        if let Some(score) = m.helpful.filter(|s| (1..=5).contains(s)) {
            f.scores[usize::from(score) - 1] += 1;
        }
        f.concerns += m.concerns;
    }
    waits.sort_unstable();
    f.median_first_session = waits.get(waits.len().saturating_sub(1) / 2).copied();
    f
}

fn sessions_label(i: usize) -> String {
    match i {
        1 => "1 session".into(),
        MOST_SESSIONS => format!("{MOST_SESSIONS}+ sessions"),
        n => format!("{n} sessions"),
    }
}

/// Append the section to the report's `html`.
pub fn render(html: &mut String, f: &MatchFigures) -> Result<(), ChartError> {
    html.push_str("<section>\n<h2>After the match</h2>\n");
    if f.total == 0 {
        html.push_str("<p>No request has been accepted yet.</p>\n</section>\n");
        return Ok(());
    }
    let given: u32 = f.scores.iter().sum();
    let mean = if given == 0 {
        "—".to_string()
    } else {
        let sum: u32 = f
            .scores
            .iter()
            .enumerate()
            .map(|(i, n)| (i as u32 + 1) * n)
            .sum();
        format!("{:.1} of 5", f64::from(sum) / f64::from(given))
    };
    let _ = writeln!(
        html,
        "<ul class=\"summary\">\
         <li><strong>{total}</strong> matches</li>\
         <li><strong>{running}</strong> running</li>\
         <li><strong>{completed}</strong> completed</li>\
         <li><strong>{extended}</strong> extended</li>\
         <li><strong>{early}</strong> ended early</li>\
         <li><strong>{median}</strong> median days to a first session</li>\
         <li><strong>{mean}</strong> mean feedback score ({given} given)</li>\
         <li><strong>{concerns}</strong> concerns raised</li></ul>",
        total = f.total,
        running = f.running,
        completed = f.completed,
        extended = f.extended,
        early = f.ended_early,
        median = f
            .median_first_session
            .map_or_else(|| "—".to_string(), |d| d.to_string()),
        concerns = f.concerns,
    );
    let rows = vec![
        vec![
            "The sessions offered were used".into(),
            f.sessions_used.to_string(),
        ],
        vec!["The window ended".into(), f.window_ended.to_string()],
        vec![
            "Ended early by the mentor or the mentee".into(),
            f.ended_early.to_string(),
        ],
        vec!["Still running".into(), f.running.to_string()],
    ];
    html.push_str(&table("How matches ended", &["", "Matches"], &rows));

    let colour: RGBColor = STATES[0].colour;
    html.push_str("\n<h3>Sessions held</h3>\n");
    let bars: Vec<(String, u32, RGBColor)> = f
        .by_sessions
        .iter()
        .enumerate()
        .map(|(i, n)| (sessions_label(i), *n, colour))
        .collect();
    html.push_str(&bar_chart(
        "chart-sessions",
        "Matches by number of sessions held",
        "Matches",
        &bars,
        |n| n.to_string(),
    )?);
    let rows: Vec<Vec<String>> = bars
        .iter()
        .map(|(l, n, _)| vec![l.clone(), n.to_string()])
        .collect();
    html.push_str(&table("Sessions held", &["Sessions", "Matches"], &rows));

    html.push_str(
        "\n<h3>Days from the match to the first session</h3>\n\
         <p>Calendar days from the mentor accepting to the first session recorded.</p>\n",
    );
    let bars: Vec<(String, u32, RGBColor)> = FIRST_BUCKETS
        .iter()
        .zip(f.first_session_days)
        .map(|((_, l), n)| (l.to_string(), n, STATES[4].colour))
        .collect();
    html.push_str(&bar_chart(
        "chart-first-session",
        "Days from the match to the first session",
        "Matches",
        &bars,
        |n| n.to_string(),
    )?);
    let rows: Vec<Vec<String>> = bars
        .iter()
        .map(|(l, n, _)| vec![l.clone(), n.to_string()])
        .collect();
    html.push_str(&table(
        "Days to a first session",
        &["Days", "Matches"],
        &rows,
    ));

    html.push_str("\n<h3>Feedback</h3>\n<p>How helpful mentees found their mentoring, from 1 (not at all) to 5 (very).</p>\n");
    let rows: Vec<Vec<String>> = f
        .scores
        .iter()
        .enumerate()
        .map(|(i, n)| vec![format!("{}", i + 1), n.to_string()])
        .collect();
    html.push_str(&table("Feedback scores", &["Score", "Mentees"], &rows));
    let _ = writeln!(
        html,
        "\n<p>Concerns raised by mentors: {}. The notes are in `mentorsite requests show`, never here.</p>\n</section>",
        f.concerns
    );
    Ok(())
}
