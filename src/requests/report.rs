//! The programme manager's report: one self-contained HTML page with four charts drawn by
//! plotters' SVG backend (requests per month by outcome, outcome shares, working days to an
//! answer, lapsed requests per mentor), each followed by its figures as a table.
//!
//! It is made from [`Outcome`]s only: dates, mentor slugs and states. No mentee's name,
//! address or message reaches it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

mod matches;
pub use matches::{MatchFigures, match_figures};

use super::local_date;
use super::store::Outcome;
use crate::render::escape as esc;

/// The states a request ends in, in the order the charts show them.
pub const STATES: [State; 6] = [
    State {
        key: "accepted",
        label: "Accepted",
        colour: RGBColor(0x1b, 0x7a, 0x3d),
    },
    State {
        key: "declined",
        label: "Declined",
        colour: RGBColor(0xb3, 0x47, 0x1b),
    },
    State {
        key: "lapsed",
        label: "Lapsed",
        colour: RGBColor(0x7a, 0x5a, 0x00),
    },
    State {
        key: "withdrawn",
        label: "Withdrawn",
        colour: RGBColor(0x7b, 0x3f, 0x8c),
    },
    State {
        key: "pending",
        label: "Waiting",
        colour: RGBColor(0x1f, 0x5f, 0xa8),
    },
    State {
        key: "completed",
        label: "Completed",
        colour: RGBColor(0x2f, 0x4f, 0x4f),
    },
];

/// Where a state the report does not know is counted: with those waiting.
const WAITING: usize = 4;

/// A request state with its label and bar colour (each at least 3:1 against white).
pub struct State {
    pub key: &'static str,
    pub label: &'static str,
    pub colour: RGBColor,
}

/// The longest time-to-answer bucket: "6 or more working days".
const LAST_BUCKET: usize = 6;
/// Months shown in the monthly chart, at most.
const MAX_MONTHS: usize = 24;
/// Mentors shown in the lapsed chart, at most.
const MAX_MENTORS: usize = 15;

/// The counts behind the charts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figures {
    pub total: usize,
    /// `(month, counts by STATES)`, oldest first, every month from the first request held.
    pub months: Vec<(Date, [u32; 6])>,
    /// Requests older than the months shown.
    pub earlier: usize,
    pub states: [u32; 6],
    /// Answers by working days taken: 0, 1, … 5, and 6 or more.
    pub answer_days: [u32; LAST_BUCKET + 1],
    /// The median working days to an answer, when there were answers.
    pub median_answer: Option<u32>,
    /// `(mentor's name, lapsed requests)`, most first.
    pub lapsed_by_mentor: Vec<(String, u32)>,
    /// After the match: sessions, ends, extensions, feedback, concerns.
    pub matches: matches::MatchFigures,
}

/// What the report needs from the scheme.
pub struct Context<'a> {
    pub title: &'a str,
    pub time_zone: &'a TimeZone,
    pub holidays: &'a [Date],
    pub retention_days: u32,
    /// Mentors' names by slug; a slug not here (a mentor since removed) is shown as it is.
    pub names: &'a BTreeMap<String, String>,
    /// Now, in seconds since the epoch.
    pub now: i64,
}

fn month_of(d: Date) -> Date {
    d.first_of_month()
}

fn state_index(status: &str) -> usize {
    STATES
        .iter()
        .position(|s| s.key == status)
        .unwrap_or(WAITING)
}

pub fn figures(rows: &[Outcome], cx: &Context) -> Figures {
    let tz = cx.time_zone;
    let mut states = [0u32; 6];
    let mut by_month: BTreeMap<Date, [u32; 6]> = BTreeMap::new();
    let mut answer_days = [0u32; LAST_BUCKET + 1];
    let mut waits = Vec::new();
    let mut lapsed: BTreeMap<&str, u32> = BTreeMap::new();
    for r in rows {
        let i = state_index(&r.status);
        states[i] += 1;
        let created = local_date(r.created_at, tz);
        by_month.entry(month_of(created)).or_default()[i] += 1;
        if let Some(at) = r.answered_at {
            let days = super::working_days_between(created, local_date(at, tz), cx.holidays);
            answer_days[(days as usize).min(LAST_BUCKET)] += 1;
            waits.push(days);
        }
        if r.status == "lapsed" {
            *lapsed.entry(&r.mentor).or_default() += 1;
        }
    }

    // Every month from the first held to this one, empty months included.
    let mut months = Vec::new();
    if let Some((&first, _)) = by_month.first_key_value() {
        let this = month_of(local_date(cx.now, tz));
        let mut m = first;
        while m <= this.max(first) {
            months.push((m, by_month.get(&m).copied().unwrap_or_default()));
            m = match m.checked_add(jiff::Span::new().months(1)) {
                Ok(next) => next,
                Err(_) => break,
            };
        }
    }
    let cut = months.len().saturating_sub(MAX_MONTHS);
    let earlier = months[..cut]
        .iter()
        .map(|(_, c)| c.iter().sum::<u32>() as usize)
        .sum();
    months.drain(..cut);

    waits.sort_unstable();
    let median_answer = (!waits.is_empty()).then(|| waits[(waits.len() - 1) / 2]);

    let mut lapsed_by_mentor: Vec<(String, u32)> = lapsed
        .into_iter()
        .map(|(slug, n)| {
            let name = cx
                .names
                .get(slug)
                .cloned()
                .unwrap_or_else(|| slug.to_string());
            (name, n)
        })
        .collect();
    lapsed_by_mentor.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

    Figures {
        total: rows.len(),
        months,
        earlier,
        states,
        answer_days,
        median_answer,
        lapsed_by_mentor,
        matches: MatchFigures::default(),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot draw the chart: {0}")]
pub struct ChartError(String);

fn chart_err<E: std::fmt::Debug>(e: E) -> ChartError {
    ChartError(format!("{e:?}"))
}

const WIDTH: u32 = 760;
const FONT: &str = "sans-serif";
const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);

/// Draw into an SVG string with `draw`, then make it an accessible image named by `title`.
fn svg(
    id: &str,
    title: &str,
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<(), ChartError>,
) -> Result<String, ChartError> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_err)?;
        draw(&root)?;
        root.present().map_err(chart_err)?;
    }
    let title_el = esc(title);
    Ok(out
        .replacen(
            "<svg ",
            &format!(
                "<svg role=\"img\" aria-labelledby=\"{id}\" focusable=\"false\" class=\"chart\" "
            ),
            1,
        )
        .replacen('>', &format!("><title id=\"{id}\">{title_el}</title>"), 1))
}

fn month_label(m: Date) -> String {
    m.strftime("%b %Y").to_string()
}

fn axis_max(n: u32) -> u32 {
    // Headroom for the legend and a round top.
    (n + n / 5 + 1).max(4)
}

fn monthly_chart(f: &Figures) -> Result<String, ChartError> {
    let n = f.months.len() as u32;
    let top = f
        .months
        .iter()
        .map(|(_, c)| c.iter().sum::<u32>())
        .max()
        .unwrap_or(0);
    svg(
        "chart-months",
        "Requests per month, by outcome",
        360,
        |root| {
            let mut chart = ChartBuilder::on(root)
                .margin(16)
                .x_label_area_size(44)
                .y_label_area_size(48)
                .build_cartesian_2d((0..n).into_segmented(), 0..axis_max(top))
                .map_err(chart_err)?;
            let months = &f.months;
            // At most eight month names fit under the bars.
            let every = months.len().div_ceil(8).max(1);
            chart
                .configure_mesh()
                .disable_x_mesh()
                .light_line_style(WHITE)
                .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
                .x_labels(months.len())
                .x_label_formatter(&|v| match v {
                    SegmentValue::CenterOf(i) if (*i as usize).is_multiple_of(every) => months
                        .get(*i as usize)
                        .map(|(m, _)| month_label(*m))
                        .unwrap_or_default(),
                    _ => String::new(),
                })
                .y_desc("Requests")
                .label_style((FONT, 17).into_font().color(&INK))
                .axis_desc_style((FONT, 18).into_font().color(&INK))
                .draw()
                .map_err(chart_err)?;
            for (k, state) in STATES.iter().enumerate() {
                let bars = months.iter().enumerate().filter_map(|(i, (_, c))| {
                    let below: u32 = c[..k].iter().sum();
                    (c[k] > 0).then(|| {
                        let i = i as u32;
                        let mut bar = Rectangle::new(
                            [
                                (SegmentValue::Exact(i), below),
                                (SegmentValue::Exact(i + 1), below + c[k]),
                            ],
                            state.colour.filled(),
                        );
                        bar.set_margin(0, 0, 4, 4);
                        bar
                    })
                });
                chart.draw_series(bars).map_err(chart_err)?;
            }
            Ok(())
        },
    )
}

/// Horizontal bars with a label and a value at each: `(label, value, colour)`.
fn bar_chart(
    id: &str,
    title: &str,
    x_desc: &str,
    bars: &[(String, u32, RGBColor)],
    value_text: impl Fn(u32) -> String,
) -> Result<String, ChartError> {
    let n = bars.len() as u32;
    let top = bars.iter().map(|b| b.1).max().unwrap_or(0);
    let longest = bars.iter().map(|b| b.0.chars().count()).max().unwrap_or(4) as u32;
    let height = 80 + 34 * n;
    svg(id, title, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .margin_right(48)
            .x_label_area_size(40)
            .y_label_area_size((longest * 8 + 16).clamp(60, 260))
            .build_cartesian_2d(0..axis_max(top), (0..n).into_segmented())
            .map_err(chart_err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
            .y_labels(bars.len())
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => n
                    .checked_sub(1 + *i)
                    .and_then(|k| bars.get(k as usize))
                    .map(|b| b.0.clone())
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .x_desc(x_desc)
            .label_style((FONT, 17).into_font().color(&INK))
            .axis_desc_style((FONT, 18).into_font().color(&INK))
            .draw()
            .map_err(chart_err)?;
        // The first bar at the top.
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (_, v, colour))| {
                let row = n - 1 - i as u32;
                let mut bar = Rectangle::new(
                    [
                        (0, SegmentValue::Exact(row)),
                        (*v, SegmentValue::Exact(row + 1)),
                    ],
                    colour.filled(),
                );
                bar.set_margin(5, 5, 0, 0);
                bar
            }))
            .map_err(chart_err)?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (_, v, _))| {
                let row = n - 1 - i as u32;
                Text::new(
                    format!(" {}", value_text(*v)),
                    (*v, SegmentValue::CenterOf(row)),
                    (FONT, 17)
                        .into_font()
                        .color(&INK)
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                )
            }))
            .map_err(chart_err)?;
        Ok(())
    })
}

fn percent(n: u32, total: usize) -> String {
    if total == 0 {
        return "0%".into();
    }
    format!("{:.0}%", f64::from(n) * 100.0 / total as f64)
}

fn days_label(i: usize) -> String {
    match i {
        0 => "Same day".into(),
        1 => "1 working day".into(),
        LAST_BUCKET => format!("{LAST_BUCKET}+ working days"),
        n => format!("{n} working days"),
    }
}

/// A table of `(label, cells…)` rows under a header.
fn table(caption: &str, head: &[&str], rows: &[Vec<String>]) -> String {
    let mut t = format!(
        "<details><summary>{} as a table</summary><table><caption>{}</caption><thead><tr>",
        esc(caption),
        esc(caption)
    );
    for h in head {
        let _ = write!(t, "<th scope=\"col\">{}</th>", esc(h));
    }
    t.push_str("</tr></thead><tbody>");
    for row in rows {
        t.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            if i == 0 {
                let _ = write!(t, "<th scope=\"row\">{}</th>", esc(cell));
            } else {
                let _ = write!(t, "<td>{}</td>", esc(cell));
            }
        }
        t.push_str("</tr>");
    }
    t.push_str("</tbody></table></details>");
    t
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;color:#222;background:#fff;margin:0}\
main{max-width:52rem;margin:0 auto;padding:1rem}\
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.5rem}\
.summary{display:grid;grid-template-columns:repeat(auto-fit,minmax(10rem,1fr));gap:.75rem;padding:0;list-style:none}\
.summary li{border:1px solid #999;border-radius:.4rem;padding:.6rem .8rem}\
.summary strong{display:block;font-size:1.5rem}\
svg.chart{max-width:100%;height:auto;display:block}\
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #999;padding:.25rem .6rem;text-align:left}\
td{text-align:right}caption{text-align:left;font-weight:600}\
summary{cursor:pointer;color:#1f4fa0;text-decoration:underline;padding:.25rem 0}\
summary:focus-visible{outline:3px solid #1f4fa0;outline-offset:2px}\
.note{color:#444}\
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.4rem 1.2rem}\
.swatch{display:inline-block;width:1rem;height:1rem;margin-right:.4rem;vertical-align:-.15rem;border-radius:.15rem}";

/// The whole page.
pub fn render(f: &Figures, cx: &Context) -> Result<String, ChartError> {
    let generated = jiff::Timestamp::from_second(cx.now)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(cx.time_zone.clone());
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex\">\n\
         <title>Requests report · {title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>Requests report: {title}</h1>\n\
         <p class=\"note\">Made on {date}. It counts the requests the service still holds: closed \
         requests are erased {days} days after they close. It names mentors, so share it with the \
         scheme's team only; it holds no mentee's details.</p>\n",
        title = esc(cx.title),
        date = generated.strftime("%A %-d %B %Y at %H:%M %Z"),
        days = cx.retention_days,
    );
    if f.total == 0 {
        html.push_str(
            "<p>No requests yet: there is nothing to chart.</p>\n</main>\n</body>\n</html>\n",
        );
        return Ok(html);
    }

    let answered: u32 = f.answer_days.iter().sum();
    let _ = writeln!(
        html,
        "<ul class=\"summary\">\
         <li><strong>{total}</strong> requests</li>\
         <li><strong>{accepted}</strong> accepted</li>\
         <li><strong>{lapsed}</strong> lapsed unanswered</li>\
         <li><strong>{median}</strong> median time to an answer</li>\
         <li><strong>{waiting}</strong> waiting now</li></ul>",
        total = f.total,
        accepted = percent(f.states[0] + f.states[5], f.total),
        lapsed = percent(f.states[2], f.total),
        median = f.median_answer.map_or_else(
            || "—".to_string(),
            |d| if d == 1 {
                "1 working day".into()
            } else {
                format!("{d} working days")
            }
        ),
        waiting = f.states[4],
    );

    // Requests per month.
    html.push_str("<section>\n<h2>Requests per month</h2>\n");
    if f.earlier > 0 {
        let _ = writeln!(
            html,
            "<p class=\"note\">The last {MAX_MONTHS} months; {} earlier requests are counted in the totals.</p>",
            f.earlier
        );
    }
    html.push_str("<ul class=\"legend\" aria-label=\"Colours in the chart\">");
    for s in &STATES {
        let RGBColor(r, g, b) = s.colour;
        let _ = write!(
            html,
            "<li><span class=\"swatch\" style=\"background:#{r:02x}{g:02x}{b:02x}\"></span>{}</li>",
            s.label
        );
    }
    html.push_str("</ul>\n");
    html.push_str(&monthly_chart(f)?);
    let mut head = vec!["Month"];
    head.extend(STATES.iter().map(|s| s.label));
    head.push("All");
    let rows: Vec<Vec<String>> = f
        .months
        .iter()
        .map(|(m, c)| {
            let mut row = vec![month_label(*m)];
            row.extend(c.iter().map(u32::to_string));
            row.push(c.iter().sum::<u32>().to_string());
            row
        })
        .collect();
    html.push_str(&table("Requests per month", &head, &rows));
    html.push_str("\n</section>\n");

    // Outcome shares.
    html.push_str("<section>\n<h2>What happened to the requests</h2>\n");
    let bars: Vec<(String, u32, RGBColor)> = STATES
        .iter()
        .zip(f.states)
        .map(|(s, n)| (s.label.to_string(), n, s.colour))
        .collect();
    let total = f.total;
    html.push_str(&bar_chart(
        "chart-outcomes",
        "Outcome of every request",
        "Requests",
        &bars,
        |n| format!("{n} ({})", percent(n, total)),
    )?);
    let rows: Vec<Vec<String>> = bars
        .iter()
        .map(|(l, n, _)| vec![l.clone(), n.to_string(), percent(*n, total)])
        .collect();
    html.push_str(&table("Outcomes", &["Outcome", "Requests", "Share"], &rows));
    html.push_str("\n</section>\n");

    // Time to answer.
    let _ = write!(
        html,
        "<section>\n<h2>Time to an answer</h2>\n<p>Working days from the request to the mentor \
         accepting or declining ({answered} answered). Requests lapse unanswered after the \
         deadline; they are counted above, not here.</p>\n"
    );
    let bars: Vec<(String, u32, RGBColor)> = f
        .answer_days
        .iter()
        .enumerate()
        .map(|(i, n)| (days_label(i), *n, STATES[4].colour))
        .collect();
    html.push_str(&bar_chart(
        "chart-answer-days",
        "Working days to an answer",
        "Answers",
        &bars,
        |n| n.to_string(),
    )?);
    let rows: Vec<Vec<String>> = bars
        .iter()
        .map(|(l, n, _)| vec![l.clone(), n.to_string()])
        .collect();
    html.push_str(&table(
        "Time to an answer",
        &["Working days", "Answers"],
        &rows,
    ));
    html.push_str("\n</section>\n");

    // Lapsed per mentor.
    html.push_str("<section>\n<h2>Lapsed requests per mentor</h2>\n");
    if f.lapsed_by_mentor.is_empty() {
        html.push_str("<p>No request has lapsed.</p>\n");
    } else {
        let shown = &f.lapsed_by_mentor[..f.lapsed_by_mentor.len().min(MAX_MENTORS)];
        if shown.len() < f.lapsed_by_mentor.len() {
            let _ = writeln!(
                html,
                "<p class=\"note\">The {MAX_MENTORS} mentors with the most; the table lists all {}.</p>",
                f.lapsed_by_mentor.len()
            );
        }
        let bars: Vec<(String, u32, RGBColor)> = shown
            .iter()
            .map(|(name, n)| (name.clone(), *n, STATES[2].colour))
            .collect();
        html.push_str(&bar_chart(
            "chart-lapsed",
            "Lapsed requests per mentor",
            "Lapsed requests",
            &bars,
            |n| n.to_string(),
        )?);
        let rows: Vec<Vec<String>> = f
            .lapsed_by_mentor
            .iter()
            .map(|(name, n)| vec![name.clone(), n.to_string()])
            .collect();
        html.push_str(&table("Lapsed per mentor", &["Mentor", "Lapsed"], &rows));
    }
    html.push_str("\n</section>\n");
    matches::render(&mut html, &f.matches)?;
    html.push_str("</main>\n</body>\n</html>\n");
    Ok(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_second()
    }

    fn row(created: &str, mentor: &str, status: &str, answered: Option<&str>) -> Outcome {
        Outcome {
            created_at: at(created),
            mentor: mentor.into(),
            status: status.into(),
            answered_at: answered.map(at),
        }
    }

    fn london() -> TimeZone {
        TimeZone::get("Europe/London").unwrap()
    }

    fn sample() -> Vec<Outcome> {
        vec![
            // Monday, accepted on Wednesday: 2 working days.
            row(
                "2026-09-07T10:00:00Z",
                "ada",
                "accepted",
                Some("2026-09-09T10:00:00Z"),
            ),
            // Friday, declined on Monday: 1 working day.
            row(
                "2026-09-11T10:00:00Z",
                "ada",
                "declined",
                Some("2026-09-14T08:00:00Z"),
            ),
            row("2026-10-01T10:00:00Z", "bo", "lapsed", None),
            row("2026-10-02T10:00:00Z", "bo", "lapsed", None),
            row("2026-10-05T10:00:00Z", "gone", "lapsed", None),
            // Accepted the same day, later withdrawn.
            row(
                "2026-11-02T10:00:00Z",
                "ada",
                "withdrawn",
                Some("2026-11-02T15:00:00Z"),
            ),
            row("2026-11-20T10:00:00Z", "bo", "pending", None),
        ]
    }

    fn context<'a>(names: &'a BTreeMap<String, String>, tz: &'a TimeZone) -> Context<'a> {
        Context {
            title: "Fixture <scheme>",
            time_zone: tz,
            holidays: &[],
            retention_days: 365,
            names,
            now: at("2026-11-22T12:00:00Z"),
        }
    }

    fn names() -> BTreeMap<String, String> {
        [("ada", "Ada Lovelace-Byron"), ("bo", "Bo Åberg")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn figures_count_months_states_answers_and_lapses() {
        let (names, tz) = (names(), london());
        let f = figures(&sample(), &context(&names, &tz));
        assert_eq!(f.total, 7);
        assert_eq!(f.states, [1, 1, 3, 1, 1, 0]);
        let months: Vec<(String, u32)> = f
            .months
            .iter()
            .map(|(m, c)| (m.to_string(), c.iter().sum()))
            .collect();
        assert_eq!(
            months,
            [
                ("2026-09-01".to_string(), 2),
                ("2026-10-01".to_string(), 3),
                ("2026-11-01".to_string(), 2)
            ]
        );
        assert_eq!(f.answer_days, [1, 1, 1, 0, 0, 0, 0]);
        assert_eq!(f.median_answer, Some(1));
        assert_eq!(
            f.lapsed_by_mentor,
            [("Bo Åberg".to_string(), 2), ("gone".to_string(), 1)],
            "most first; a removed mentor by slug"
        );
    }

    #[test]
    fn empty_months_are_shown_and_old_ones_summed() {
        let (names, tz) = (names(), london());
        let rows = vec![
            row("2023-01-10T10:00:00Z", "ada", "lapsed", None),
            row("2026-11-10T10:00:00Z", "ada", "pending", None),
        ];
        let f = figures(&rows, &context(&names, &tz));
        assert_eq!(f.months.len(), MAX_MONTHS);
        assert_eq!(f.months[0].0.to_string(), "2024-12-01");
        assert_eq!(f.earlier, 1);
        assert_eq!(
            f.months
                .iter()
                .filter(|(_, c)| c.iter().sum::<u32>() > 0)
                .count(),
            1
        );
    }

    #[test]
    fn the_page_has_four_accessible_charts_and_their_tables() {
        let (names, tz) = (names(), london());
        let cx = context(&names, &tz);
        let html = render(&figures(&sample(), &cx), &cx).unwrap();
        assert_eq!(html.matches("<svg role=\"img\"").count(), 4, "{html}");
        for id in [
            "chart-months",
            "chart-outcomes",
            "chart-answer-days",
            "chart-lapsed",
        ] {
            assert!(
                html.contains(&format!("aria-labelledby=\"{id}\""))
                    && html.contains(&format!("<title id=\"{id}\">")),
                "{id} is named"
            );
        }
        assert_eq!(html.matches("<table>").count(), 4);
        assert!(
            html.contains("Fixture &lt;scheme&gt;"),
            "the title is escaped"
        );
        assert!(html.contains("<strong>14%</strong> accepted"), "1 of 7");
        assert!(html.contains("<strong>1 working day</strong> median"));
        assert!(html.contains("<th scope=\"row\">Bo Åberg</th><td>2</td>"));
        let texts: Vec<&str> = html
            .split("<text")
            .skip(1)
            .filter_map(|t| Some(t.split_once('>')?.1.split_once("</text>")?.0.trim()))
            .collect();
        for label in [
            "Bo Åberg",
            "Sep 2026",
            "3 (43%)",
            "Same day",
            "6+ working days",
            "Withdrawn",
        ] {
            assert!(
                texts.contains(&label),
                "{label} drawn in a chart: {texts:?}"
            );
        }
    }

    #[test]
    fn no_requests_says_so() {
        let (names, tz) = (names(), london());
        let cx = context(&names, &tz);
        let html = render(&figures(&[], &cx), &cx).unwrap();
        assert!(html.contains("No requests yet"));
        assert!(!html.contains("<svg"));
    }
}
