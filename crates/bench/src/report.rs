//! The report: tables on stdout, raw numbers as JSON.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{Context, Result};
use crate::run::Report;

const MIB: f64 = 1024.0 * 1024.0;

/// The report as text: a header with the machine and the settings, then the tables.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    header(&mut out, report);
    dashboard_table(&mut out, report);
    login_table(&mut out, report);
    stored_sessions_table(&mut out, report);
    goals_table(&mut out, report);
    problems(&mut out, report);
    out
}

/// Writes the report as pretty JSON to `path`, creating its folder.
pub fn write_json(report: &Report, path: &Path) -> Result<()> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
    }
    let json = serde_json::to_string_pretty(report).context("cannot serialise the report")?;
    std::fs::write(path, json + "\n").with_context(|| format!("cannot write {}", path.display()))
}

fn header(out: &mut String, report: &Report) {
    let machine = &report.machine;
    let settings = &report.settings;
    let load = |value: Option<f64>| value.map_or_else(|| "?".to_owned(), |v| format!("{v:.2}"));
    let _ = writeln!(out, "Wristband benchmark");
    let _ = writeln!(
        out,
        "  machine   {} CPUs ({}), {} RAM; 1-min load average {} at start, {} at end",
        machine.cpus,
        machine.cpu_model.as_deref().unwrap_or("unknown CPU"),
        machine.memory_bytes.map_or_else(
            || "?".to_owned(),
            |bytes| format!("{:.1} GiB", bytes as f64 / MIB / 1024.0)
        ),
        load(machine.load_average_at_start),
        load(machine.load_average_at_end),
    );
    let _ = writeln!(
        out,
        "  argon2id  m={} KiB t={} p={}; password.workers={} (raw baseline: {} threads in-process)",
        settings.argon2.memory_kib,
        settings.argon2.iterations,
        settings.argon2.parallelism,
        settings.workers,
        settings.workers,
    );
    let _ = writeln!(
        out,
        "  load      {} connections GET, {} connections login storm (POST /login, one user each); \
         {:.1} s per phase; HTTP/1.1 keep-alive over 127.0.0.1",
        settings.connections, settings.storm_connections, settings.phase_seconds,
    );
    let dashboard_bytes = report.legs.first().map_or(0, |leg| leg.dashboard_bytes);
    let _ = writeln!(
        out,
        "  pages     /dashboard {} B; bare axum GET / {} B",
        dashboard_bytes, settings.bare_page_bytes
    );
    if let Some(postgres) = &settings.postgres {
        let _ = writeln!(out, "  postgres  {postgres}");
    }
    let _ = writeln!(out, "  server    {}", settings.wristband.display());
    let _ = writeln!(
        out,
        "  pinning   {}; password.worker_priority = {}",
        settings.pinning.note, settings.worker_priority
    );
    if settings.quick {
        let _ = writeln!(
            out,
            "  QUICK     a smoke run (--quick): phases of {:.1} s, {} stored sessions; the figures mean nothing",
            settings.phase_seconds, settings.stored_sessions.1
        );
    }
    let busiest = machine
        .load_average_at_start
        .into_iter()
        .chain(machine.load_average_at_end)
        .fold(0.0_f64, f64::max);
    if busiest > machine.cpus as f64 {
        let _ = writeln!(
            out,
            "  WARNING   other work kept the machine busy (1-min load average up to {busiest:.1} on \
             {} CPUs): req/s, logins/s and their ratios depend on the CPU share each phase got; \
             the CPU ratios do not",
            machine.cpus
        );
    }
}

fn dashboard_table(out: &mut String, report: &Report) {
    let _ = writeln!(
        out,
        "\nAuthenticated GET /dashboard, {} connections; \"storm\": while the login storm runs",
        report.settings.connections
    );
    let headers = [
        "store",
        "sessions",
        "req/s",
        "bare req/s",
        "ratio",
        "CPU ratio",
        "p50 ms",
        "p99 ms",
        "storm p50",
        "storm p99",
        "storm req/s",
        "bare p50",
        "bare p99",
    ];
    let rows = report
        .legs
        .iter()
        .map(|leg| {
            vec![
                leg.store.to_string(),
                leg.sessions.to_string(),
                format!("{:.0}", leg.dashboard.per_second),
                format!("{:.0}", leg.bare_per_second),
                format!("{:.3}", leg.dashboard_ratio),
                optional(leg.dashboard_cpu_ratio, 1),
                format!("{:.2}", leg.dashboard.latency.p50_ms),
                format!("{:.2}", leg.dashboard.latency.p99_ms),
                format!("{:.2}", leg.dashboard_during_storm.latency.p50_ms),
                format!("{:.2}", leg.dashboard_during_storm.latency.p99_ms),
                format!("{:.0}", leg.dashboard_during_storm.per_second),
                format!("{:.2}", leg.bare_before.latency.p50_ms),
                format!("{:.2}", leg.bare_before.latency.p99_ms),
            ]
        })
        .collect::<Vec<_>>();
    table(out, &headers, &rows);
    let _ = writeln!(
        out,
        "  ratio     = Wristband req/s ÷ bare axum GET / req/s (same generator; the bare phases run \
         just before and just after, their mean is the baseline)\n  \
         CPU ratio = server CPU time per request ÷ bare server CPU time per request (PostgreSQL's \
         processes counted as the server's; less sensitive to other work on the machine)"
    );
}

fn login_table(out: &mut String, report: &Report) {
    let settings = &report.settings;
    let _ = writeln!(
        out,
        "\nLogins: POST /login with the right password, {} connections, one user each",
        settings.storm_connections,
    );
    let headers = [
        "store",
        "sessions",
        "logins/s",
        "hashes/s",
        "ratio",
        "CPU ratio",
        "p50 ms",
        "p99 ms",
        "logins/s under GET load",
        "peak RSS MiB",
        "within bound",
    ];
    let rows = report
        .legs
        .iter()
        .map(|leg| {
            let (rss, within) = match leg.peak_rss_bytes {
                Some(bytes) => (
                    format!("{:.1}", bytes as f64 / MIB),
                    if bytes <= settings.rss_bound_bytes {
                        "yes"
                    } else {
                        "NO"
                    }
                    .to_owned(),
                ),
                None => ("?".to_owned(), "?".to_owned()),
            };
            vec![
                leg.store.to_string(),
                leg.sessions.to_string(),
                format!("{:.1}", leg.logins.per_second),
                format!("{:.1}", leg.raw_hashes_per_second),
                format!("{:.3}", leg.login_ratio),
                optional(leg.login_cpu_ratio, 2),
                format!("{:.1}", leg.logins.latency.p50_ms),
                format!("{:.1}", leg.logins.latency.p99_ms),
                format!("{:.1}", leg.logins_during_load.per_second),
                rss,
                within,
            ]
        })
        .collect::<Vec<_>>();
    table(out, &headers, &rows);
    let _ = writeln!(
        out,
        "  ratio     = logins/s ÷ raw Argon2id hashes/s in-process on {} threads (the hash phases \
         run just before and just after, their mean is the baseline; on the server's core)\n  \
         CPU ratio = server CPU time per login ÷ CPU time per raw hash (1 + what a login costs \
         beyond its hash)\n  \
         peak RSS  = the server's VmHWM over the leg; bound = 64 MiB + 2 × server CPUs × memory_kib = \
         {:.1} MiB",
        settings.workers,
        settings.rss_bound_bytes as f64 / MIB,
    );
    if let Some(bytes) = report.bare_peak_rss_bytes {
        let _ = writeln!(
            out,
            "  (the bare axum server's peak RSS: {:.1} MiB)",
            bytes as f64 / MIB
        );
    }
}

fn stored_sessions_table(out: &mut String, report: &Report) {
    let _ = writeln!(
        out,
        "\nAuthenticated GET /dashboard with few and with many sessions stored (seeded directly)"
    );
    let headers = [
        "store",
        "sessions",
        "stored",
        "req/s",
        "p99 ms",
        "stored",
        "req/s",
        "p99 ms",
        "cost ratio",
    ];
    let rows = report
        .legs
        .iter()
        .map(|leg| {
            vec![
                leg.store.to_string(),
                leg.sessions.to_string(),
                leg.stored_sessions.0.to_string(),
                format!("{:.0}", leg.dashboard_few_stored.per_second),
                format!("{:.2}", leg.dashboard_few_stored.latency.p99_ms),
                leg.stored_sessions.1.to_string(),
                format!("{:.0}", leg.dashboard_many_stored.per_second),
                format!("{:.2}", leg.dashboard_many_stored.latency.p99_ms),
                format!("{:.3}", leg.stored_sessions_cost_ratio),
            ]
        })
        .collect::<Vec<_>>();
    table(out, &headers, &rows);
    let _ = writeln!(
        out,
        "  cost ratio = req/s with few ÷ req/s with many stored (the cost of a request with many, \
         relative to few)"
    );
}

fn goals_table(out: &mut String, report: &Report) {
    let bound = report.settings.rss_bound_bytes;
    let _ = writeln!(
        out,
        "\nGoals (SPEC §8), each a ratio measured within this run"
    );
    let headers = [
        "store",
        "sessions",
        "GET ≥ 0.6 × bare",
        "storm p99 ≤ 3 × idle",
        "logins ≥ 0.9 × hashes",
        "1M stored ≤ 1.5 × 1k",
        "RSS ≤ bound",
    ];
    let verdict = |met: bool, text: String| format!("{text} {}", if met { "ok" } else { "MISSED" });
    let rows = report
        .legs
        .iter()
        .map(|leg| {
            vec![
                leg.store.to_string(),
                leg.sessions.to_string(),
                verdict(
                    leg.dashboard_ratio >= 0.6,
                    format!("{:.2}", leg.dashboard_ratio),
                ),
                verdict(
                    leg.storm_p99_ratio <= 3.0,
                    format!("{:.2}", leg.storm_p99_ratio),
                ),
                verdict(leg.login_ratio >= 0.9, format!("{:.2}", leg.login_ratio)),
                verdict(
                    leg.stored_sessions_cost_ratio <= 1.5,
                    format!("{:.2}", leg.stored_sessions_cost_ratio),
                ),
                match leg.peak_rss_bytes {
                    Some(bytes) => {
                        verdict(bytes <= bound, format!("{:.0} MiB", bytes as f64 / MIB))
                    }
                    None => "?".to_owned(),
                },
            ]
        })
        .collect::<Vec<_>>();
    table(out, &headers, &rows);
}

/// `value` with `decimals` decimals, or `?`.
fn optional(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "?".to_owned(), |value| format!("{value:.decimals$}"))
}

fn problems(out: &mut String, report: &Report) {
    let mut lines = Vec::new();
    for leg in &report.legs {
        let phases = [
            ("bare GET / before", &leg.bare_before),
            ("GET /dashboard", &leg.dashboard),
            ("bare GET / after", &leg.bare_after),
            ("GET /dashboard during storm", &leg.dashboard_during_storm),
            ("POST /login during GET load", &leg.logins_during_load),
            ("POST /login", &leg.logins),
            ("GET /dashboard, few stored", &leg.dashboard_few_stored),
            ("GET /dashboard, many stored", &leg.dashboard_many_stored),
        ];
        for (name, outcome) in phases {
            if outcome.had_errors() {
                lines.push(format!(
                    "  {} / {}, {name}: {}",
                    leg.store,
                    leg.sessions,
                    outcome.describe_errors()
                ));
            }
        }
    }
    if lines.is_empty() {
        let _ = writeln!(
            out,
            "\nEvery response had the expected status (200, or 303 for logins)."
        );
    } else {
        let _ = writeln!(
            out,
            "\nUnexpected responses (not timed, not counted above):"
        );
        for line in lines {
            let _ = writeln!(out, "{line}");
        }
    }
}

/// A table: the first two columns left-aligned, the others right-aligned.
fn table(out: &mut String, headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (index, (cell, width)) in cells.zip(&widths).enumerate() {
            if index > 0 {
                text.push_str("  ");
            }
            if index < 2 {
                let _ = write!(text, "{cell:<width$}");
            } else {
                let _ = write!(text, "{cell:>width$}");
            }
        }
        text.trim_end().to_owned()
    };
    let _ = writeln!(out, "{}", line(&mut headers.iter().copied()));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    let _ = writeln!(out, "{}", line(&mut rule.iter().map(String::as_str)));
    for row in rows {
        let _ = writeln!(out, "{}", line(&mut row.iter().map(String::as_str)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let mut out = String::new();
        table(
            &mut out,
            &["store", "sessions", "req/s"],
            &[
                vec!["sqlite".into(), "database".into(), "12345".into()],
                vec!["postgres".into(), "cookie".into(), "7".into()],
            ],
        );
        assert_eq!(
            out,
            "store     sessions  req/s\n\
             --------  --------  -----\n\
             sqlite    database  12345\n\
             postgres  cookie        7\n"
        );
    }
}
