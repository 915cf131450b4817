//! Preparing a Wristband server for a leg: registering the benchmark's users, logging them
//! in for the authenticated load, and preparing the login storm's forms.
//!
//! Users are registered and logged in through the JSON API (`/api/v1/register`,
//! `/api/v1/login`: no CSRF token needed); the storm uses the HTML form (`GET /login` once per
//! connection for the CSRF token and cookie, then `POST /login` over and over), as a browser
//! would. Every storm connection logs in as a user of its own, with the right password, so the
//! failure throttle never counts against it.

use std::net::SocketAddr;

use hyper::StatusCode;
use hyper::header;
use serde_json::json;
use tokio::task::JoinSet;

use crate::error::{Context, Error, Result};
use crate::http::{Connection, Reply, RequestTemplate, hidden_input};

/// The session cookie's name (profile `test`: cookies are not `Secure`, so no `__Host-`).
pub const SESSION_COOKIE: &str = "wristband_session";
/// The CSRF cookie's name.
pub const CSRF_COOKIE: &str = "wristband_csrf";
/// Every benchmark user's password: long enough for the policy, on no common-password list.
const PASSWORD: &str = "Bench-wristband 7 purple lanterns";

/// What the load phases need from a prepared server.
pub struct Prepared {
    /// One `GET /dashboard` per dashboard connection, each with a different user's session.
    pub dashboard: Vec<RequestTemplate>,
    /// One `POST /login` per storm connection, each for a different user.
    pub storm: Vec<RequestTemplate>,
    /// The size of the dashboard page's body, in bytes.
    pub dashboard_bytes: usize,
}

/// Registers `dashboard_users + storm_users` users on the server at `addr`, `parallel` at a
/// time, and prepares the requests of the load phases.
pub async fn prepare(
    addr: SocketAddr,
    dashboard_users: usize,
    storm_users: usize,
    parallel: usize,
) -> Result<Prepared> {
    let dashboard_names: Vec<String> = (0..dashboard_users)
        .map(|i| format!("bench-dash-{i:03}"))
        .collect();
    let storm_names: Vec<String> = (0..storm_users)
        .map(|i| format!("bench-storm-{i:03}"))
        .collect();
    let everyone: Vec<String> = dashboard_names
        .iter()
        .chain(&storm_names)
        .cloned()
        .collect();
    in_parallel(addr, everyone, parallel, register).await?;
    let sessions = in_parallel(addr, dashboard_names, parallel, log_in).await?;
    let dashboard = sessions
        .iter()
        .map(|session| RequestTemplate::get(addr, "/dashboard")?.cookie(SESSION_COOKIE, session))
        .collect::<Result<Vec<_>>>()?;
    let dashboard_bytes = match dashboard.first() {
        Some(request) => check_dashboard(addr, request).await?,
        None => 0,
    };
    let storm = in_parallel(addr, storm_names, parallel, login_form).await?;
    Ok(Prepared {
        dashboard,
        storm,
        dashboard_bytes,
    })
}

/// Runs `step(connection, name)` for every name, over `parallel` connections; the results
/// come back in the order of `names`.
async fn in_parallel<T, F, Fut>(
    addr: SocketAddr,
    names: Vec<String>,
    parallel: usize,
    step: F,
) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(SocketAddr, Connection, String) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Result<(Connection, T)>> + Send,
{
    let parallel = parallel.max(1);
    let mut tasks = JoinSet::new();
    for lane in 0..parallel {
        let mine: Vec<(usize, String)> = names
            .iter()
            .enumerate()
            .skip(lane)
            .step_by(parallel)
            .map(|(index, name)| (index, name.clone()))
            .collect();
        if mine.is_empty() {
            continue;
        }
        tasks.spawn(async move {
            let mut connection = Connection::open(addr).await?;
            let mut results = Vec::with_capacity(mine.len());
            for (index, name) in mine {
                let (returned, result) = step(addr, connection, name).await?;
                connection = returned;
                results.push((index, result));
            }
            Ok::<_, Error>(results)
        });
    }
    let mut all = Vec::with_capacity(names.len());
    while let Some(joined) = tasks.join_next().await {
        all.extend(joined.context("a set-up task failed")??);
    }
    all.sort_by_key(|(index, _)| *index);
    Ok(all.into_iter().map(|(_, result)| result).collect())
}

/// Sends `request`, failing unless the status is `expect`.
async fn expect(
    connection: &mut Connection,
    request: &RequestTemplate,
    expect: StatusCode,
) -> Result<Reply> {
    let reply = connection
        .send(request.build()?)
        .await
        .with_context(|| request.describe())?;
    if reply.status == expect {
        Ok(reply)
    } else {
        Err(Error::new(format!(
            "{} answered {} (expected {expect}): {}",
            request.describe(),
            reply.status,
            reply.text().chars().take(300).collect::<String>()
        )))
    }
}

async fn register(
    addr: SocketAddr,
    mut connection: Connection,
    username: String,
) -> Result<(Connection, ())> {
    let body = json!({ "username": username, "password": PASSWORD });
    let request = RequestTemplate::post_json(addr, "/api/v1/register", &body)?;
    expect(&mut connection, &request, StatusCode::CREATED).await?;
    Ok((connection, ()))
}

/// Logs `username` in; the session cookie's value.
async fn log_in(
    addr: SocketAddr,
    mut connection: Connection,
    username: String,
) -> Result<(Connection, String)> {
    let body = json!({ "username": username, "password": PASSWORD });
    let request = RequestTemplate::post_json(addr, "/api/v1/login", &body)?;
    let reply = expect(&mut connection, &request, StatusCode::OK).await?;
    let session = reply.cookie(SESSION_COOKIE).ok_or_else(|| {
        Error::new(format!(
            "POST /api/v1/login set no `{SESSION_COOKIE}` cookie"
        ))
    })?;
    Ok((connection, session))
}

/// Fetches the login form once and returns the `POST /login` that logs `username` in (the
/// CSRF cookie and token stay valid for every repetition), after checking it once.
async fn login_form(
    addr: SocketAddr,
    mut connection: Connection,
    username: String,
) -> Result<(Connection, RequestTemplate)> {
    let form = RequestTemplate::get(addr, "/login")?;
    let reply = expect(&mut connection, &form, StatusCode::OK).await?;
    let csrf_cookie = reply
        .cookie(CSRF_COOKIE)
        .ok_or_else(|| Error::new(format!("GET /login set no `{CSRF_COOKIE}` cookie")))?;
    let token = hidden_input(&reply.text(), "csrf_token")
        .ok_or_else(|| Error::new("GET /login: no csrf_token field in the form"))?;
    let request = RequestTemplate::post_form(
        addr,
        "/login",
        &[
            ("csrf_token", &token),
            ("username", &username),
            ("password", PASSWORD),
        ],
    )?
    .cookie(CSRF_COOKIE, &csrf_cookie)?;
    let reply = expect(&mut connection, &request, StatusCode::SEE_OTHER).await?;
    if reply.cookie(SESSION_COOKIE).is_none() {
        return Err(Error::new(format!(
            "POST /login answered 303 but set no `{SESSION_COOKIE}` cookie"
        )));
    }
    Ok((connection, request))
}

/// Checks that the session works: `GET /dashboard` answers 200 with an HTML page (not a
/// redirect to the login page); the page's size.
async fn check_dashboard(addr: SocketAddr, request: &RequestTemplate) -> Result<usize> {
    let mut connection = Connection::open(addr).await?;
    let reply = expect(&mut connection, request, StatusCode::OK).await?;
    let html = reply
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if !html || !reply.text().contains("dashboard") {
        return Err(Error::new(
            "GET /dashboard with a fresh session did not return the dashboard page",
        ));
    }
    Ok(reply.body.len())
}
