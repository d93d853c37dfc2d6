//! Writes that reach a follower, executed by the leader through the database (table
//! `write_inbox`, migration 10; docs/store.md, "Writes on a follower").
//!
//! - The follower inserts the checked [`Operation`] (with the writer's name and a key unique
//!   to the request) and notifies `shipwatch_inbox`; it then waits for the row's answer.
//! - The leader, listening on `shipwatch_inbox` (and looking every second anyway), takes
//!   unanswered rows, executes each through its own push API, webhooks and sources (so it is
//!   checked against the authoritative state), stores the HTTP status and JSON body in the row
//!   and notifies `shipwatch_inbox_done`. The follower answers its client with exactly that.
//! - Nobody takes the row within the wait (`--forward-wait-ms`, 10 s): the follower deletes it,
//!   which succeeds only while no leader has taken it, and answers 503 "nothing was applied".
//!   Taken but not answered by then: 503 saying it may have been applied.
//! - Answered rows are trimmed after a minute; rows nobody answered, after an hour.
//!
//! **Once per row.** A take increments the row's `attempt`, and an answer is stored only for
//! the take that took it, so a row has one answer. Only the leader takes rows, and it leads
//! only once it holds the store's writer (the previous leader's session is gone), so a row
//! another replica took and left unanswered was left mid-way: it is taken again after
//! [`RETAKE_AFTER`] (2 s; a row of this replica's own, after 30 s). While its follower still
//! waits, a push API call or a webhook delivery then runs again, which is safe because each
//! leaves what one run leaves: upserts set the same values, a status already reached or a stage
//! already set answers as done, lines stored with the same text are skipped by number, and a
//! creation runs under the id the first run wrote into the row before it started
//! ([`Operation::CreateDeployment`]'s `picked_id`), so the second run finds the deployment
//! instead of making another. An action is not idempotent (a second deploy is a second
//! deployment), and a row its follower no longer waits for was answered 503 "may have been
//! applied" to its client, which retries itself (running it late could undo what was written
//! since): both are answered 503 and not run.
//!
//! Notifications only say "look": the rows are the truth, so a notification lost while a
//! listener reconnects costs at most the second until the next look.

use super::writes::{Operation, Outcome};
use super::Role;
use futures_util::future::BoxFuture;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Channel a follower notifies when it inserted a row.
pub const NEW_CHANNEL: &str = "shipwatch_inbox";
/// Channel the leader notifies when it answered a row (payload: the row's id).
pub const DONE_CHANNEL: &str = "shipwatch_inbox_done";
/// A row another replica took this long ago without an answer is taken again: that replica is
/// no longer the leader (this one is), so it died or stopped mid-way.
pub const RETAKE_AFTER: Duration = Duration::from_secs(2);
/// A row this replica took this long ago, no longer running here, without an answer, is taken
/// again.
pub const RETAKE_OWN_AFTER: Duration = Duration::from_secs(30);
/// Answered rows are kept this long (a follower whose notification was lost reads it).
pub const KEEP_ANSWERED: Duration = Duration::from_secs(60);
/// Rows nobody answered are kept this long.
pub const KEEP_UNANSWERED: Duration = Duration::from_secs(3600);
/// Rows a leader executes at once.
pub const MAX_RUNNING: usize = 64;

/// Rows a leader may take ($1: this replica, $2: [`RETAKE_OWN_AFTER`], $5: [`RETAKE_AFTER`], in
/// ms): unanswered, and not taken yet or taken by a replica that did not answer in time.
macro_rules! takeable {
    () => {
        concat!(
            "status IS NULL AND (attempt = 0 OR taken_at < ",
            now_ms!(),
            " - $2 OR (taken_by <> $1 AND taken_at < ",
            now_ms!(),
            " - $5))"
        )
    };
}

/// The database's clock in ms since the epoch, in SQL: replicas' clocks do not matter.
macro_rules! now_ms {
    () => {
        "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT"
    };
}

/// A row a leader took.
#[derive(Debug)]
pub struct Taken {
    /// The row.
    pub id: i64,
    /// Which take this is (1 the first; more: a leader took it before and did not answer).
    pub attempt: i32,
    /// Older than a follower waits: its client was told it may have been applied, and
    /// retries; a take after the first then runs nothing.
    pub late: bool,
    /// Who wrote it.
    pub writer: String,
    /// The operation, or why it cannot be read (a replica of another version wrote it).
    pub op: Result<Operation, String>,
}

/// What a leader does with a row it took.
pub type Exec = Arc<dyn Fn(Taken) -> BoxFuture<'static, Outcome> + Send + Sync>;

/// The inbox of a replica on PostgreSQL: a follower's way to the leader, and the leader's
/// executor of what followers forward.
pub struct Inbox {
    pool: PgPool,
    /// This replica, in `taken_by` and in request keys.
    me: String,
    /// How long a follower waits for an answer.
    wait: Duration,
    next_key: AtomicU64,
    /// Rows this replica forwarded and waits for: woken when their answer is notified.
    waiting: Mutex<HashMap<i64, Arc<Notify>>>,
    /// Rows this replica executes now.
    running: Mutex<HashSet<i64>>,
    /// Rows answered and notified by this replica since start (for tests and health).
    executed: AtomicU64,
}

impl Inbox {
    /// The inbox of the database at `url` (PostgreSQL), connecting when first used.
    /// `me` names this replica; a follower waits `wait` for each answer.
    pub fn new(url: &str, me: String, wait: Duration) -> Result<Arc<Inbox>, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy(url)?;
        Ok(Arc::new(Inbox {
            pool,
            me,
            wait,
            next_key: AtomicU64::new(1),
            waiting: Mutex::new(HashMap::new()),
            running: Mutex::new(HashSet::new()),
            executed: AtomicU64::new(0),
        }))
    }

    /// Rows this replica executed and answered since start.
    pub fn executed(&self) -> u64 {
        self.executed.load(Ordering::Relaxed)
    }

    /// Hands `op` of `writer` to the leader and waits for its answer (follower side).
    pub async fn forward(&self, writer: &str, op: &Operation) -> Outcome {
        let call = match serde_json::to_string(op) {
            Ok(c) => c,
            Err(e) => {
                return Outcome::unavailable(format!("the write could not be forwarded: {e}"))
            }
        };
        let key = format!(
            "{}:{}",
            self.me,
            self.next_key.fetch_add(1, Ordering::Relaxed)
        );
        let id = match self.insert(&key, &call, writer).await {
            Ok(id) => id,
            Err(e) => {
                return Outcome::unavailable(format!(
                    "this replica is a follower and could not hand the write to the leader \
                     (the database answered: {e}); nothing was applied: retry"
                ))
            }
        };
        let wake = Arc::new(Notify::new());
        let _waiting = Waiting::register(self, id, wake.clone());
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            if let Ok(Some(answer)) = self.answer_of(id).await {
                return answer;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                break;
            }
            // The notification wakes at once; the timer is the look a lost one costs.
            let next = (now + Duration::from_millis(500)).min(deadline);
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep_until(next) => {}
            }
        }
        self.give_up(id).await
    }

    /// Inserts a row and notifies the leader, in one transaction; its id.
    async fn insert(&self, key: &str, call: &str, writer: &str) -> Result<i64, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(concat!(
            "INSERT INTO write_inbox (request_key, call, writer, created_at) \
             VALUES ($1, $2, $3, ",
            now_ms!(),
            ") \
             ON CONFLICT (request_key) DO UPDATE SET request_key = excluded.request_key \
             RETURNING id"
        ))
        .bind(key)
        .bind(call)
        .bind(writer)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(NEW_CHANNEL)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The answer of row `id`, once there is one.
    async fn answer_of(&self, id: i64) -> Result<Option<Outcome>, sqlx::Error> {
        let row = sqlx::query("SELECT status, answer FROM write_inbox WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(Some(Outcome::unavailable(
                "the write's row left the inbox before it was answered: retry",
            )));
        };
        let status: Option<i32> = row.try_get("status")?;
        let answer: Option<String> = row.try_get("answer")?;
        Ok(match (status, answer) {
            (Some(status), Some(answer)) => Some(Outcome {
                status: u16::try_from(status).unwrap_or(500),
                body: serde_json::from_str(&answer).unwrap_or(serde_json::Value::Null),
            }),
            _ => None,
        })
    }

    /// No answer within the wait: the row is withdrawn if no leader took it (nothing was
    /// applied), else the client is told it may have been.
    async fn give_up(&self, id: i64) -> Outcome {
        let secs = self.wait.as_secs_f64();
        let withdrawn = sqlx::query("DELETE FROM write_inbox WHERE id = $1 AND attempt = 0")
            .bind(id)
            .execute(&self.pool)
            .await;
        match withdrawn {
            Ok(done) if done.rows_affected() == 1 => Outcome::unavailable(format!(
                "this replica is a follower and no leader took the write within {secs} s (one \
                 may be taking over): nothing was applied, retry"
            )),
            _ => match self.answer_of(id).await {
                Ok(Some(answer)) => answer,
                _ => Outcome::unavailable(format!(
                    "this replica is a follower and the leader did not answer within {secs} s: \
                     the write may have been applied; a retry of a push API call is safe (it \
                     is skipped where it was applied), an action should be checked first"
                )),
            },
        }
    }

    /// Listens and, while `role` says this replica writes, executes what followers forward
    /// with `exec`; wakes this replica's own waiting forwards. Ends at `shutdown`.
    pub async fn run(
        self: Arc<Self>,
        role: watch::Receiver<Role>,
        exec: Exec,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut listener: Option<PgListener> = None;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticks: u64 = 0;
        loop {
            if *shutdown.borrow() {
                break;
            }
            if listener.is_none() {
                listener = self.listen().await.ok();
            }
            let mut look = false;
            tokio::select! {
                r = shutdown.changed() => {
                    if r.is_err() {
                        break;
                    }
                    continue;
                }
                _ = tick.tick() => {
                    ticks += 1;
                    look = true;
                    // A waiter looks at its row twice a second anyway: nothing to wake.
                }
                n = recv(&mut listener) => match n {
                    Some(n) if n.channel() == DONE_CHANNEL => {
                        if let Ok(id) = n.payload().parse::<i64>() {
                            self.wake(id);
                        }
                    }
                    Some(_) => look = true,
                    None => {
                        // Lost: a new listener at the next turn; the tick looks meanwhile.
                        listener = None;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                },
            }
            if look && role.borrow().writes() {
                self.take_and_run(&exec).await;
                if ticks.is_multiple_of(10) {
                    if let Err(e) = self.trim().await {
                        tracing::debug!(error = %e, "inbox not trimmed");
                    }
                }
            }
        }
    }

    async fn listen(&self) -> Result<PgListener, sqlx::Error> {
        let mut l = PgListener::connect_with(&self.pool).await?;
        l.listen_all([NEW_CHANNEL, DONE_CHANNEL]).await?;
        Ok(l)
    }

    fn wake(&self, id: i64) {
        let waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = waiting.get(&id) {
            w.notify_one();
        }
    }

    /// Takes the unanswered rows (and those whose taker did not answer in time) that this
    /// replica does not run yet, and runs each in a task of its own.
    pub async fn take_and_run(self: &Arc<Self>, exec: &Exec) {
        let taken = match self.take().await {
            Ok(t) => t,
            Err(e) => {
                tracing::debug!(error = %e, "inbox not read");
                return;
            }
        };
        for t in taken {
            let (inbox, exec) = (self.clone(), exec.clone());
            tokio::spawn(async move {
                let (id, attempt) = (t.id, t.attempt);
                let outcome = exec(t).await;
                inbox.store_answer(id, attempt, &outcome).await;
                inbox
                    .running
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
            });
        }
    }

    async fn take(&self) -> Result<Vec<Taken>, sqlx::Error> {
        let running: Vec<i64> = {
            let r = self.running.lock().unwrap_or_else(|p| p.into_inner());
            r.iter().copied().collect()
        };
        let room = MAX_RUNNING.saturating_sub(running.len());
        if room == 0 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(concat!(
            "UPDATE write_inbox SET attempt = attempt + 1, taken_by = $1, taken_at = ",
            now_ms!(),
            " WHERE ",
            takeable!(),
            " AND id IN (SELECT id FROM write_inbox WHERE ",
            takeable!(),
            " AND NOT (id = ANY($3)) ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING id, attempt, writer, call, created_at < ",
            now_ms!(),
            " - $6 AS late"
        ))
        .bind(&self.me)
        .bind(RETAKE_OWN_AFTER.as_millis() as i64)
        .bind(&running)
        .bind(room as i64)
        .bind(RETAKE_AFTER.as_millis() as i64)
        .bind(self.wait.as_millis() as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut taken = Vec::with_capacity(rows.len());
        {
            let mut r = self.running.lock().unwrap_or_else(|p| p.into_inner());
            for row in rows {
                let id: i64 = row.try_get("id")?;
                let call: String = row.try_get("call")?;
                r.insert(id);
                taken.push(Taken {
                    id,
                    attempt: row.try_get("attempt")?,
                    late: row.try_get("late")?,
                    writer: row.try_get("writer")?,
                    op: serde_json::from_str(&call).map_err(|e| e.to_string()),
                });
            }
        }
        taken.sort_by_key(|t| t.id);
        Ok(taken)
    }

    /// Writes `op` into row `id` in place of what it held, for take `attempt` (the picked id
    /// of a creation); false if the row is no longer this take's or the database failed.
    pub async fn pin(&self, id: i64, attempt: i32, op: &Operation) -> bool {
        let Ok(call) = serde_json::to_string(op) else {
            return false;
        };
        let done = sqlx::query(
            "UPDATE write_inbox SET call = $1 WHERE id = $2 AND attempt = $3 AND status IS NULL",
        )
        .bind(call)
        .bind(id)
        .bind(attempt)
        .execute(&self.pool)
        .await;
        matches!(done, Ok(d) if d.rows_affected() == 1)
    }

    /// Stores the answer of take `attempt` of row `id` and notifies it; retried while the
    /// database fails, until the row would be taken again anyway.
    async fn store_answer(&self, id: i64, attempt: i32, outcome: &Outcome) {
        let answer = outcome.body.to_string();
        let until = tokio::time::Instant::now() + RETAKE_OWN_AFTER;
        loop {
            match self
                .try_store_answer(id, attempt, outcome.status, &answer)
                .await
            {
                Ok(stored) => {
                    if stored {
                        self.executed.fetch_add(1, Ordering::Relaxed);
                    }
                    return;
                }
                Err(e) if tokio::time::Instant::now() < until => {
                    tracing::warn!(id, error = %e, "inbox answer not stored: retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => {
                    tracing::error!(id, error = %e, "inbox answer not stored: given up");
                    return;
                }
            }
        }
    }

    async fn try_store_answer(
        &self,
        id: i64,
        attempt: i32,
        status: u16,
        answer: &str,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(concat!(
            "UPDATE write_inbox SET status = $1, answer = $2, answered_at = ",
            now_ms!(),
            " \
             WHERE id = $3 AND attempt = $4 AND status IS NULL"
        ))
        .bind(i32::from(status))
        .bind(answer)
        .bind(id)
        .bind(attempt)
        .execute(&mut *tx)
        .await?;
        let stored = done.rows_affected() == 1;
        if stored {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(DONE_CHANNEL)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(stored)
    }

    /// Removes answered rows past [`KEEP_ANSWERED`] and unanswered ones past
    /// [`KEEP_UNANSWERED`].
    pub async fn trim(&self) -> Result<u64, sqlx::Error> {
        let done = sqlx::query(concat!(
            "DELETE FROM write_inbox WHERE (status IS NOT NULL AND answered_at < ",
            now_ms!(),
            " - $1) \
             OR created_at < ",
            now_ms!(),
            " - $2"
        ))
        .bind(KEEP_ANSWERED.as_millis() as i64)
        .bind(KEEP_UNANSWERED.as_millis() as i64)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

/// The next notification, or none when the listener is lost (or missing).
async fn recv(listener: &mut Option<PgListener>) -> Option<sqlx::postgres::PgNotification> {
    match listener {
        Some(l) => l.recv().await.ok(),
        None => std::future::pending().await,
    }
}

/// A forward's place among the waiting, removed however the forward ends (a client that
/// goes away drops it).
struct Waiting<'a> {
    inbox: &'a Inbox,
    id: i64,
}

impl<'a> Waiting<'a> {
    fn register(inbox: &'a Inbox, id: i64, wake: Arc<Notify>) -> Self {
        inbox
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, wake);
        Waiting { inbox, id }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.inbox
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

/// The leader's executor over `app`: each row through [`super::writes::execute`]. A creation
/// without an id gets its id picked and written into the row first; an action taken a second
/// time is not run again.
pub fn executor(app: std::sync::Weak<crate::app::App>, inbox: Arc<Inbox>) -> Exec {
    Arc::new(move |t: Taken| {
        let (app, inbox) = (app.clone(), inbox.clone());
        Box::pin(async move {
            let Some(app) = app.upgrade() else {
                return Outcome::unavailable("the leader is stopping: retry");
            };
            let op = match t.op {
                Ok(op) => op,
                Err(e) => {
                    return Outcome::unavailable(format!(
                        "the leader cannot read this write (a replica of another version?): {e}"
                    ))
                }
            };
            if t.attempt > 1 && !op.idempotent() {
                return Outcome::unavailable(
                    "the replica that was executing this action stopped before it answered: \
                     the action may have been applied; look at the service before asking again",
                );
            }
            if t.attempt > 1 && t.late {
                // Its client was told it may have been applied and retries itself: running it
                // now could undo what was written since.
                return Outcome::unavailable(
                    "the replica that was executing this write stopped before it answered: it \
                     may have been applied; retry",
                );
            }
            let op = match op {
                Operation::CreateDeployment {
                    req,
                    picked_id: None,
                } if req.id.is_none() => {
                    let pinned = Operation::CreateDeployment {
                        req,
                        picked_id: Some(app.push.pick_id()),
                    };
                    if !inbox.pin(t.id, t.attempt, &pinned).await {
                        return Outcome::unavailable(
                            "the leader could not record the new deployment's id (the database \
                             failed): nothing was applied, retry",
                        );
                    }
                    pinned
                }
                op => op,
            };
            super::writes::execute(&app, &t.writer, op).await
        })
    })
}

/// The inbox of a server on PostgreSQL (`--store postgres://...`); none otherwise. Connects
/// when first used, so a database down at start is no reason not to start.
pub fn for_config(cfg: &crate::config::Config) -> std::io::Result<Option<Arc<Inbox>>> {
    let Some(url) = cfg.store(0).and_then(|s| s.database) else {
        return Ok(None);
    };
    let me = format!(
        "{}-{}-{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "replica".into()),
        std::process::id(),
        crate::app::wall_millis()
    );
    let wait = Duration::from_millis(cfg.forward_wait_ms.max(1));
    Inbox::new(&url, me, wait)
        .map(Some)
        .map_err(|e| std::io::Error::other(format!("the write inbox: {e}")))
}

/// Runs `app`'s inbox (if it has one) until shutdown; the push API follows the role.
pub fn start(app: &Arc<crate::app::App>) {
    app.push.follow_role(app.role.clone());
    let Some(inbox) = app.inbox.clone() else {
        return;
    };
    let exec = executor(Arc::downgrade(app), inbox.clone());
    tokio::spawn(inbox.run(app.role.clone(), exec, app.shutdown.clone()));
}
