//! The one task that talks to the server during a `deploy`: creates the deployment (and its
//! environment and service when the server does not know them), then sends what the outbox
//! holds, in order, one request at a time. While the server is away it waits (back-off) and
//! tries the same request again; once it answers, it asks where the log stands
//! (`next_line`) and sends only what the server does not have. What was sent is removed from
//! the outbox only once the server said so.

use crate::api::{Api, ApiError, NewDeployment};
use crate::backoff::Backoff;
use crate::outbox::{Event, Next, Outbox};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Most lines a request carries.
pub const MAX_BATCH_LINES: usize = 5_000;
/// About the most bytes of text a request carries (the server takes 8 MiB).
pub const MAX_BATCH_BYTES: usize = 2 << 20;

/// What the command side and the sender share.
#[derive(Debug)]
pub struct Shared {
    /// What is left to send.
    pub outbox: Mutex<Outbox>,
    /// Rung when something was queued, or at the end.
    pub wake: Notify,
    /// Nothing more will be queued.
    pub closed: AtomicBool,
    /// Nothing can be reported (the server refused the deployment): queue nothing.
    pub discard: AtomicBool,
}

impl Shared {
    /// Around an outbox.
    #[must_use]
    pub fn new(outbox: Outbox) -> Arc<Self> {
        Arc::new(Self {
            outbox: Mutex::new(outbox),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
            discard: AtomicBool::new(false),
        })
    }

    /// Queues an event and wakes the sender.
    pub fn push(&self, event: Event) {
        if self.discard.load(Ordering::Relaxed) {
            return;
        }
        self.outbox.lock().expect("outbox").push(event);
        self.wake.notify_one();
    }

    /// Nothing more will be queued.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

/// How the sending went.
#[derive(Clone, Debug, Default)]
pub struct Sent {
    /// Whether the deployment was created (or found).
    pub created: bool,
    /// Lines the server took.
    pub lines: u64,
    /// Requests the server refused for good (each said once on stderr).
    pub refused: u64,
    /// The last error, when something could not be delivered.
    pub last_error: Option<String>,
}

/// The deployment's stand-in while it is being sent.
pub struct Sender {
    api: Api,
    new: NewDeployment,
    kind: String,
    shared: Arc<Shared>,
    backoff: Backoff,
    /// Added to the reporter's line numbers: the lines the deployment had before this run
    /// (a deployment continued with the same --id).
    offset: u64,
    /// Progress, readable while the task runs (the flush timeout may cut it short).
    pub sent: Arc<Mutex<Sent>>,
    warned_away: bool,
}

impl Sender {
    /// A sender of `new` (its service created with `kind` when missing).
    #[must_use]
    pub fn new(api: Api, new: NewDeployment, kind: String, shared: Arc<Shared>) -> Self {
        let seed = u64::from(std::process::id()) ^ 0x9e37_79b9_7f4a_7c15;
        Self {
            api,
            new,
            kind,
            shared,
            backoff: Backoff::new(seed),
            offset: 0,
            sent: Arc::new(Mutex::new(Sent::default())),
            warned_away: false,
        }
    }

    /// Runs until everything queued was sent and the outbox is closed, or the deployment
    /// cannot be reported at all.
    pub async fn run(mut self) {
        if !self.create().await {
            // Nothing can be reported: let the command's side queue into nothing.
            return;
        }
        self.sent.lock().expect("sent").created = true;
        let mut resync = false;
        loop {
            if resync {
                match self.sync().await {
                    Ok(()) => resync = false,
                    Err(e) => {
                        self.away(&e).await;
                        continue;
                    }
                }
            }
            let shared = self.shared.clone();
            let notified = shared.wake.notified();
            let next = self
                .shared
                .outbox
                .lock()
                .expect("outbox")
                .next(MAX_BATCH_LINES, MAX_BATCH_BYTES);
            let Some(next) = next else {
                if self.shared.closed.load(Ordering::SeqCst)
                    && self.shared.outbox.lock().expect("outbox").is_empty()
                {
                    return;
                }
                notified.await;
                continue;
            };
            let (count, result) = match &next {
                Next::Lines(lines) => (
                    lines.len(),
                    self.api
                        .append_lines(&self.new.id, lines, self.offset)
                        .await
                        .map(|a| {
                            let _ = a.next_line;
                        }),
                ),
                Next::Other(Event::Status { status, stage }) => (
                    1,
                    self.api
                        .set_status(&self.new.id, *status, stage.as_deref())
                        .await,
                ),
                Next::Other(Event::Stage { stage }) => {
                    (1, self.api.set_stage(&self.new.id, stage).await)
                }
                Next::Other(Event::Line(_)) => unreachable!("lines come in runs"),
            };
            match result {
                Ok(()) => {
                    self.shared.outbox.lock().expect("outbox").done(count);
                    if let Next::Lines(_) = next {
                        self.sent.lock().expect("sent").lines += count as u64;
                    }
                    if self.warned_away {
                        eprintln!("shipwatch: the server answers again; sending what it missed");
                        self.warned_away = false;
                    }
                    self.backoff.reset();
                }
                Err(e) if e.is_retryable() => {
                    self.away(&e).await;
                    resync = true;
                }
                Err(e) => {
                    // Sending it again would get the same answer: say so once, go on with
                    // the rest.
                    let what = match &next {
                        Next::Lines(l) => format!(
                            "lines {}-{}",
                            l[0].n + self.offset,
                            l[l.len() - 1].n + self.offset
                        ),
                        Next::Other(Event::Status { status, .. }) => format!("status {status}"),
                        Next::Other(_) => "stage".to_string(),
                    };
                    eprintln!("shipwatch: the server refused {what}: {e}");
                    let mut sent = self.sent.lock().expect("sent");
                    sent.refused += 1;
                    sent.last_error = Some(e.to_string());
                    drop(sent);
                    self.shared.outbox.lock().expect("outbox").done(count);
                }
            }
        }
    }

    /// The server is away (or busy): say so once, wait before the next try.
    async fn away(&mut self, e: &ApiError) {
        if !self.warned_away {
            eprintln!(
                "shipwatch: {} is away ({e}); buffering and trying again",
                self.api.base()
            );
            self.warned_away = true;
        }
        self.sent.lock().expect("sent").last_error = Some(e.to_string());
        tokio::time::sleep(self.backoff.next_wait()).await;
    }

    /// After a lost connection: drops from the outbox the lines the server already has.
    async fn sync(&mut self) -> Result<(), ApiError> {
        let standing = match self.api.standing(&self.new.id).await {
            Ok(s) => s,
            // The server lost the deployment (a new data directory): create it again.
            Err(ApiError::Refused { status: 404, .. }) => {
                self.create_once().await?;
                self.api.standing(&self.new.id).await?
            }
            Err(e) => return Err(e),
        };
        let below = standing.next_line.saturating_sub(self.offset);
        let skipped = self
            .shared
            .outbox
            .lock()
            .expect("outbox")
            .skip_lines_below(below);
        self.sent.lock().expect("sent").lines += skipped as u64;
        Ok(())
    }

    /// Creates the deployment, waiting for the server as long as it takes. False when the
    /// server refuses it for good (said on stderr).
    async fn create(&mut self) -> bool {
        loop {
            match self.create_once().await {
                Ok(()) => match self.api.standing(&self.new.id).await {
                    Ok(standing) => {
                        self.offset = standing.next_line.saturating_sub(1);
                        self.backoff.reset();
                        return true;
                    }
                    Err(e) if e.is_retryable() => self.away(&e).await,
                    Err(e) => return self.give_up(&e),
                },
                Err(e) if e.is_retryable() => self.away(&e).await,
                Err(e) => return self.give_up(&e),
            }
        }
    }

    fn give_up(&self, e: &ApiError) -> bool {
        eprintln!(
            "shipwatch: cannot report deployment {} to {}: {e}; the command runs unreported",
            self.new.id,
            self.api.base()
        );
        self.sent.lock().expect("sent").last_error = Some(e.to_string());
        self.shared.discard.store(true, Ordering::SeqCst);
        false
    }

    /// One try at creating the deployment, creating what the server says is missing first.
    async fn create_once(&self) -> Result<(), ApiError> {
        // At most: the environment, then the service, then the deployment.
        for _ in 0..3 {
            match self.api.create_deployment(&self.new).await {
                Ok(_) => return Ok(()),
                Err(ApiError::Refused {
                    status: 404, field, ..
                }) if field.as_deref() == Some("environment") => {
                    self.api.upsert_environment(&self.new.environment).await?;
                }
                Err(ApiError::Refused {
                    status: 404, field, ..
                }) if field.as_deref() == Some("service") && self.new.service.is_some() => {
                    let svc = self.new.service.as_deref().unwrap_or_default();
                    self.api
                        .upsert_service(&self.new.environment, svc, json!({ "kind": self.kind }))
                        .await?;
                }
                Err(e) => return Err(e),
            }
        }
        self.api.create_deployment(&self.new).await.map(drop)
    }
}
