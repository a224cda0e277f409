//! A stdio server's child process and the MCP messages on its pipes, in place of rmcp's own
//! child transport, so that what a misbehaving server sends is answered at once rather than
//! waited for:
//!
//! - the child leads a process group of its own, killed whole with it
//!   ([`crate::children`]);
//! - a line longer than [`MAX_LINE_BYTES`] is read to its end without being kept, and the
//!   request it answered fails at once with an error naming its size;
//! - a tool list with a tool that cannot be read (a schema nested beyond what a JSON parser
//!   takes, say) is kept without that tool, which is named in `refused`; any other answer
//!   that cannot be read fails its request at once, saying why.

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
};

use rmcp::{
    RoleClient,
    model::{
        ErrorCode, ErrorData, JsonRpcMessage, ListToolsResult, RequestId, ServerJsonRpcMessage,
        ServerResult, Tool,
    },
    service::{RxJsonRpcMessage, TxJsonRpcMessage},
    transport::Transport,
};
use serde::Deserialize;
use serde_json::{Value, value::RawValue};
use tokio::{
    io::{AsyncRead, AsyncWriteExt, BufReader},
    sync::mpsc,
};

use crate::{
    children::Group,
    frames::{LineEnd, read_line},
    redact::Scrubber,
    vocab::limits::MAX_LISTING_JSON_VALUES,
};

/// Longest line read from a server: its largest answer. A bigger one is refused whole.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;
/// Messages read but not yet taken, and written but not yet sent.
const CAPACITY: usize = 64;
/// Longest stderr line of a child logged (the rest is cut).
const STDERR_LINE_CHARS: usize = 2_000;

/// Tools a server listed that could not be read, and why (for `hub_status`).
pub type Refused = Arc<Mutex<Vec<String>>>;

pub struct ChildStdio {
    outbound: mpsc::Sender<Vec<u8>>,
    inbound: mpsc::Receiver<ServerJsonRpcMessage>,
    /// Kills the child's process group when the transport is dropped.
    _group: Arc<Group>,
}

impl ChildStdio {
    /// Starts `command` (set up by the caller, with its environment) as the leader of a
    /// process group, its stderr logged under `server`'s name through `scrubber`.
    pub fn spawn(
        mut command: tokio::process::Command,
        server: String,
        scrubber: Scrubber,
        refused: Refused,
    ) -> std::io::Result<Self> {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command.spawn()?;
        let group = Arc::new(Group::new(child.id().unwrap_or_default()));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let (outbound, to_child) = mpsc::channel(CAPACITY);
        let (from_child, inbound) = mpsc::channel(CAPACITY);
        if let Some(stdin) = stdin {
            tokio::spawn(write_loop(stdin, to_child));
        }
        if let Some(stdout) = stdout {
            tokio::spawn(read_loop(stdout, from_child, refused));
        }
        if let Some(stderr) = stderr {
            tokio::spawn(log_stderr(server, stderr, scrubber));
        }
        // Reaped when it exits (it is killed with its group when the transport goes).
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        Ok(Self {
            outbound,
            inbound,
            _group: group,
        })
    }
}

impl Transport<RoleClient> for ChildStdio {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let outbound = self.outbound.clone();
        let line = serde_json::to_vec(&item);
        async move {
            let line = line.map_err(std::io::Error::other)?;
            outbound
                .send(line)
                .await
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        self.inbound.recv().await
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.inbound.close();
        Ok(())
    }
}

async fn write_loop(mut stdin: tokio::process::ChildStdin, mut lines: mpsc::Receiver<Vec<u8>>) {
    while let Some(mut line) = lines.recv().await {
        line.push(b'\n');
        if stdin.write_all(&line).await.is_err() || stdin.flush().await.is_err() {
            break;
        }
    }
}

async fn read_loop(
    stdout: impl AsyncRead + Unpin,
    messages: mpsc::Sender<ServerJsonRpcMessage>,
    refused: Refused,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        let message = match read_line(&mut reader, &mut line, MAX_LINE_BYTES).await {
            Err(_) => return,
            Ok(LineEnd::Eof) if line.iter().all(u8::is_ascii_whitespace) => return,
            Ok(LineEnd::TooLong(long)) => failure(
                long.id(),
                format!(
                    "its answer is {} bytes, over the {} MiB the hub reads from a server",
                    long.size,
                    MAX_LINE_BYTES / (1024 * 1024)
                ),
            ),
            Ok(_) if line.iter().all(u8::is_ascii_whitespace) => continue,
            Ok(_)
                if crate::frames::json_values(&line, MAX_LISTING_JSON_VALUES)
                    > MAX_LISTING_JSON_VALUES =>
            {
                failure(
                    crate::frames::id_at_ends(&line),
                    format!(
                        "its answer holds more than {MAX_LISTING_JSON_VALUES} JSON values, more than the hub decodes from a server"
                    ),
                )
            }
            Ok(_) => decode(&line, &refused),
        };
        if let Some(message) = message
            && messages.send(message).await.is_err()
        {
            return;
        }
    }
}

/// One line as a message: as it is, or (see the module's doc) a tool list without what
/// cannot be read, or an error for the request it answered. `None`: not a message.
fn decode(line: &[u8], refused: &Refused) -> Option<ServerJsonRpcMessage> {
    let error = match serde_json::from_slice::<ServerJsonRpcMessage>(line) {
        Ok(message) => return Some(message),
        Err(error) => error,
    };
    if let Some(listed) = tool_list(line, refused) {
        return Some(listed);
    }
    let id = crate::frames::scan_id(line);
    tracing::debug!(%error, "a server sent a message that cannot be read");
    failure(id, format!("its answer cannot be read: {error}"))
}

/// A tool list whose tools are read one by one, those that cannot be dropped (and named in
/// `refused`). `None`: not a tool list.
fn tool_list(line: &[u8], refused: &Refused) -> Option<ServerJsonRpcMessage> {
    #[derive(Deserialize)]
    struct Response<'a> {
        id: RequestId,
        #[serde(borrow)]
        result: Listing<'a>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Listing<'a> {
        #[serde(borrow)]
        tools: Vec<&'a RawValue>,
        #[serde(default)]
        next_cursor: Option<String>,
    }
    #[derive(Deserialize)]
    struct Named {
        #[serde(default)]
        name: Option<String>,
    }
    let response: Response<'_> = serde_json::from_slice(line).ok()?;
    let mut tools = Vec::new();
    let mut dropped = Vec::new();
    for raw in response.result.tools {
        match serde_json::from_str::<Tool>(raw.get()) {
            Ok(tool) => tools.push(tool),
            Err(error) => {
                let name = serde_json::from_str::<Named>(raw.get())
                    .ok()
                    .and_then(|n| n.name)
                    .unwrap_or_else(|| "(no name)".into());
                dropped.push(format!(
                    "{}: cannot be read ({error})",
                    crate::text::truncate(&name, 100)
                ));
            }
        }
    }
    tracing::warn!(tools = ?dropped, "a server listed tools that cannot be read; they are left out");
    refused
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .extend(dropped);
    let mut result = ListToolsResult::with_all_items(tools);
    result.result_type = None;
    result.next_cursor = response.result.next_cursor;
    Some(ServerJsonRpcMessage::response(
        ServerResult::ListToolsResult(result),
        response.id,
    ))
}

/// Marks an error answer the hub made in the server's place (its `data`), so the call path
/// reports it as the hub's finding about the server, not as the server's own error.
pub const UNREADABLE: &str = "pluggedin-mcp/unreadable-answer";

/// An error answer to the request `id` (none when the id cannot be read: the request then
/// waits for its timeout, as nothing says which it was).
fn failure(id: Value, message: String) -> Option<ServerJsonRpcMessage> {
    let id: RequestId = serde_json::from_value(id).ok()?;
    Some(JsonRpcMessage::error(
        ErrorData::new(
            ErrorCode::INTERNAL_ERROR,
            message,
            Some(serde_json::json!({ UNREADABLE: true })),
        ),
        Some(id),
    ))
}

/// Logs the child's stderr a line at a time (a line is cut, never held whole).
async fn log_stderr(server: String, stderr: tokio::process::ChildStderr, scrubber: Scrubber) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        let kept = match read_line(&mut reader, &mut line, STDERR_LINE_CHARS * 4).await {
            Err(_) => return,
            Ok(LineEnd::Eof) if line.is_empty() => return,
            Ok(LineEnd::TooLong(long)) => long.head,
            Ok(_) => std::mem::take(&mut line),
        };
        let text = String::from_utf8_lossy(&kept);
        let text: String = text.chars().take(STDERR_LINE_CHARS).collect();
        tracing::info!(server = %server, "stderr: {}", scrubber.scrub(&text));
    }
}
