//! Calls of 2026-07-28 clients to servers that ask things mid-call. A 2025-11-25 server asks
//! its client for sampling, elicitation or roots with a request of its own while the call
//! runs; a 2026-07-28 client cannot be sent requests — it expects the call to answer
//! `input_required` (SEP-2322), then to be called again with the answers and the
//! `requestState` it was given.
//!
//! So the hub runs such a call in a task of its own. When the server asks something first,
//! the call is parked under a random id and the client gets an `input_required` result
//! with the questions and that id as `requestState`; its retry finds the parked call by the
//! id, hands the answers to the waiting server, and waits again — for the result or the
//! next questions. The server never knows: to it, its client simply answered.
//!
//! An id is unguessable (128 random bits) and lives in one hub (in passthrough mode, one
//! key's). A parked call the client does not come back to within the call's timeout is
//! dropped: its server's questions fail and the call is cancelled downstream. The table is
//! bounded; the oldest parked call goes first.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Mutex,
    time::Duration,
};

use rmcp::{
    ErrorData,
    model::{
        CallToolResponse, GetPromptResponse, InputRequests, InputRequiredResult, InputResponses,
        ReadResourceResponse,
    },
};
use serde_json::Value;
use tokio::{
    sync::{mpsc, oneshot},
    time::Instant,
};
use tokio_util::sync::CancellationToken;

use super::{
    HubError,
    relay::{Caller, Question, Reply},
};

/// Every id the hub hands out as `requestState` starts with this, so a retry carrying a
/// server's own state (passed through from a 2026-07-28 server) is told apart.
const STATE_PREFIX: &str = "pluggedin-hub/";
/// Most calls parked at once in one hub.
const MAX_PARKED: usize = 256;

/// What the parked work ends with.
pub enum Outcome {
    Call(Result<CallToolResponse, HubError>),
    Prompt(Result<GetPromptResponse, HubError>),
    Read(Result<ReadResourceResponse, HubError>),
}

impl Outcome {
    /// A failed outcome of the same kind as `like`.
    fn failed_like(like: Kind, error: HubError) -> Self {
        match like {
            Kind::Call => Outcome::Call(Err(error)),
            Kind::Prompt => Outcome::Prompt(Err(error)),
            Kind::Read => Outcome::Read(Err(error)),
        }
    }
}

/// Which request a bridged call answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Call,
    Prompt,
    Read,
}

/// How one round of a bridged call ends.
pub enum Round {
    Done(Outcome),
    /// The server asked the client something: answer with this, and wait for the retry.
    Asked(InputRequiredResult),
}

/// A call waiting for its client to come back with answers.
struct Parked {
    kind: Kind,
    caller: std::sync::Arc<Caller>,
    questions: mpsc::Receiver<Question>,
    /// The server's requests handed to the client, by the key the client answers under.
    waiting: BTreeMap<String, oneshot::Sender<Result<Value, ErrorData>>>,
    work: AbortOnDrop<Outcome>,
    /// How long the client may take to come back.
    patience: Duration,
    expires: Instant,
    asked: u32,
}

/// The parked calls of one hub.
#[derive(Default)]
pub struct Bridge {
    parked: Mutex<HashMap<String, Parked>>,
}

impl Bridge {
    /// Whether `state` is one of the hub's ids (else it belongs to a server).
    pub fn is_ours(state: &str) -> bool {
        state.starts_with(STATE_PREFIX)
    }

    /// Runs `work` for `caller` (made with [`Caller::parkable`], whose questions arrive on
    /// `questions`): its outcome, or the first questions of its server. `patience` bounds
    /// how long the client may take to come back with answers.
    pub async fn run(
        &self,
        kind: Kind,
        caller: std::sync::Arc<Caller>,
        questions: mpsc::Receiver<Question>,
        work: impl Future<Output = Outcome> + Send + 'static,
        patience: Duration,
        ct: &CancellationToken,
    ) -> Round {
        let parked = Parked {
            kind,
            caller,
            questions,
            waiting: BTreeMap::new(),
            work: AbortOnDrop(tokio::spawn(Box::pin(work))),
            patience,
            expires: Instant::now() + patience,
            asked: 0,
        };
        self.drive(parked, ct).await
    }

    /// A client's retry of a parked call: hands its answers to the server and waits for
    /// the outcome or the next questions. An unknown, expired or altered `state` is an
    /// invalid-params error, as SEP-2322 asks of a state that fails its check.
    pub async fn resume(
        &self,
        state: &str,
        answers: Option<InputResponses>,
        reply: Reply,
        ct: &CancellationToken,
    ) -> Result<Round, HubError> {
        let mut parked = self.take(state).ok_or_else(|| {
            HubError::InvalidParams(
                "requestState is not one this server issued, or the call it belongs to is over (the client took longer than the call's timeout to answer): call the tool again without it".into(),
            )
        })?;
        parked.caller.replace_reply(reply);
        let mut answers = answers.unwrap_or_default();
        for (key, waiting) in std::mem::take(&mut parked.waiting) {
            let answer = answers.remove(&key).ok_or_else(|| {
                ErrorData::invalid_params(
                    format!("inputResponses has no answer for \"{key}\", which the server asked"),
                    None,
                )
            });
            let _ = waiting.send(answer);
        }
        parked.expires = Instant::now() + parked.patience;
        Ok(self.drive(parked, ct).await)
    }

    /// Waits for the outcome or the server's next questions.
    async fn drive(&self, mut parked: Parked, ct: &CancellationToken) -> Round {
        let first = tokio::select! {
            biased;
            _ = ct.cancelled() => return Round::Done(cancelled(&parked)),
            outcome = &mut parked.work.0 => {
                return Round::Done(outcome.unwrap_or_else(|e| failed(&parked, e)));
            }
            question = parked.questions.recv() => question,
        };
        let Some(first) = first else {
            // The caller is gone (it cannot be while parked: it holds the sender).
            let outcome = (&mut parked.work.0).await;
            return Round::Done(outcome.unwrap_or_else(|e| failed(&parked, e)));
        };
        let mut requests = InputRequests::new();
        let mut question = Some(first);
        while let Some(Question { request, answer }) = question.take() {
            parked.asked += 1;
            let key = format!("q{}", parked.asked);
            requests.insert(key.clone(), request);
            parked.waiting.insert(key, answer);
            question = parked.questions.try_recv().ok();
        }
        let id = format!("{STATE_PREFIX}{}", uuid::Uuid::new_v4().simple());
        self.park(id.clone(), parked);
        Round::Asked(InputRequiredResult::new(Some(requests), Some(id)))
    }

    fn park(&self, id: String, parked: Parked) {
        let mut table = lock(&self.parked);
        let now = Instant::now();
        table.retain(|_, p| p.expires > now);
        if table.len() >= MAX_PARKED
            && let Some(oldest) = table
                .iter()
                .min_by_key(|(_, p)| p.expires)
                .map(|(id, _)| id.clone())
        {
            table.remove(&oldest);
        }
        table.insert(id, parked);
    }

    fn take(&self, id: &str) -> Option<Parked> {
        let mut table = lock(&self.parked);
        let parked = table.remove(id)?;
        (parked.expires > Instant::now()).then_some(parked)
    }

    /// Calls parked now (for tests and status).
    pub fn len(&self) -> usize {
        lock(&self.parked).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The outcome of a parked call the client cancelled.
fn cancelled(parked: &Parked) -> Outcome {
    Outcome::failed_like(parked.kind, HubError::Cancelled)
}

fn failed(parked: &Parked, error: tokio::task::JoinError) -> Outcome {
    Outcome::failed_like(
        parked.kind,
        HubError::Failed {
            server: String::new(),
            detail: format!("the call stopped unexpectedly: {error}"),
        },
    )
}

/// A spawned task, aborted when dropped (a parked call dropped cancels its server's call).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
