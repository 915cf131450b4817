//! PostgreSQL's follower of announced session changes: `LISTEN` on a dedicated connection
//! for the notifications the triggers of migration m0006 send.
//!
//! The follower also sends itself a heartbeat through the pool every [`HEARTBEAT`], carrying
//! the instant it was sent. Notifications arrive in commit order, so when a heartbeat comes
//! back every change committed before it was sent has been evicted: the cache is then fresh
//! as of the heartbeat's sending. A lost, stalled or lagging connection stops the heartbeats
//! coming back, and the cache is bypassed after [`ChangeFeed::FRESH_FOR`]; a lost one also
//! empties it, since notifications sent meanwhile are gone.

use auth_core::session_cache::ChangeFeed;
use auth_core::{SessionCache, UserId};
use sea_orm::DatabaseConnection;
use sea_orm::sqlx::postgres::{PgListener, PgPool};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};
use store_seaorm::migration::m0006_announce_session_changes::CHANNEL;

/// How often the follower's heartbeat is sent: several times within
/// [`ChangeFeed::FRESH_FOR`], so one late heartbeat does not bypass the cache.
pub const HEARTBEAT: Duration = Duration::from_millis(200);
/// Longest pause between attempts to reconnect the listening connection.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5);
/// Prefix of heartbeat payloads; user ids are plain integers.
const HEARTBEAT_PREFIX: &str = "heartbeat:";

/// See the module documentation. Runs until aborted.
pub fn listen_for_changes(
    db: DatabaseConnection,
    cache: SessionCache,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let pool = db.get_postgres_connection_pool().clone();
        let process = hex_nonce();
        let epoch = Instant::now();
        let heartbeats = tokio::spawn(send_heartbeats(pool.clone(), process.clone(), epoch));
        // The heartbeat task ends with this one.
        let _heartbeats = AbortOnDrop(heartbeats);
        let mut pause = HEARTBEAT;
        loop {
            cache.feed_lost();
            match PgListener::connect_with(&pool).await {
                Ok(mut listener) => match listener.listen(CHANNEL).await {
                    Ok(()) => {
                        tracing::info!("following session changes");
                        pause = HEARTBEAT;
                        follow(&mut listener, &cache, &process, epoch).await;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot LISTEN for session changes; the session cache is bypassed");
                    }
                },
                Err(error) => {
                    tracing::warn!(%error, "cannot connect to listen for session changes; the session cache is bypassed");
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_RETRY_PAUSE);
        }
    })
}

/// Follows one listening connection until it is lost.
async fn follow(listener: &mut PgListener, cache: &SessionCache, process: &str, epoch: Instant) {
    // A lost connection must be noticed (and the cache emptied) before any reconnection.
    listener.eager_reconnect(false);
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                let payload = notification.payload();
                if let Some(heartbeat) = payload.strip_prefix(HEARTBEAT_PREFIX) {
                    if let Some(sent) = own_heartbeat(heartbeat, process, epoch) {
                        cache.feed_fresh_at(sent);
                    }
                } else if let Ok(user) = payload.parse::<i64>() {
                    cache.evict_user(UserId(user));
                } else {
                    tracing::debug!(payload, "ignored a notification that names no user");
                }
            }
            Ok(None) => {
                tracing::warn!(
                    "the connection listening for session changes was lost; the session cache is bypassed until it is back"
                );
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "listening for session changes failed; the session cache is bypassed until it is back");
                return;
            }
        }
    }
}

/// When this process sent the heartbeat `payload` (`PROCESS:MILLISECONDS`); `None` for
/// another process's.
fn own_heartbeat(payload: &str, process: &str, epoch: Instant) -> Option<Instant> {
    let (from, millis) = payload.split_once(':')?;
    if from != process {
        return None;
    }
    epoch.checked_add(Duration::from_millis(millis.parse().ok()?))
}

async fn send_heartbeats(pool: PgPool, process: String, epoch: Instant) {
    let mut ticker = tokio::time::interval(HEARTBEAT);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let millis = epoch.elapsed().as_millis();
        let payload = format!("{HEARTBEAT_PREFIX}{process}:{millis}");
        let sent = sea_orm::sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&pool);
        // A heartbeat that cannot be sent soon is as good as lost: the cache goes stale.
        match tokio::time::timeout(ChangeFeed::FRESH_FOR, sent).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::debug!(%error, "could not send a session-change heartbeat"),
            Err(_) => tracing::debug!("a session-change heartbeat timed out"),
        }
    }
}

fn hex_nonce() -> String {
    auth_core::keys::random_secret()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_process_heartbeats_count() {
        let epoch = Instant::now();
        assert_eq!(
            own_heartbeat("abc:1500", "abc", epoch),
            Some(epoch + Duration::from_millis(1500))
        );
        assert_eq!(own_heartbeat("other:1500", "abc", epoch), None);
        assert_eq!(own_heartbeat("abc:x", "abc", epoch), None);
        assert_eq!(own_heartbeat("abc", "abc", epoch), None);
    }
}
