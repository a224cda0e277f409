//! MCP over stdin/stdout: one JSON-RPC message per line.
//!
//! In place of rmcp's own stdio transport, so that every line gets an answer: a line that is
//! not a valid message is answered by [`super::jsonrpc`] (rmcp would drop it and leave the
//! caller waiting), a line longer than the request limit is refused without being held in
//! memory, and a session may have at most [`jsonrpc::MAX_IN_FLIGHT`] requests unanswered.
//! Only JSON-RPC ever reaches stdout; one writer task owns it, so answers never interleave.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use futures::{Sink, Stream};
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use tokio::{
    io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader},
    sync::mpsc,
};
use tokio_util::sync::PollSender;

use super::jsonrpc::{self, Frame, PendingRequests, Rejection};
use crate::frames::{LineEnd, read_line};
use crate::vocab::limits::MAX_REQUEST_BODY_BYTES;

/// Longest line read: the largest request any transport accepts.
pub const MAX_LINE_BYTES: usize = MAX_REQUEST_BODY_BYTES;
/// Messages waiting for the writer (a client that stops reading stdout holds the server's
/// answers here, then back-pressure stops new ones).
const OUTBOUND_CAPACITY: usize = 64;
/// Messages read but not yet taken by the server.
const INBOUND_CAPACITY: usize = 64;

/// The two halves rmcp serves on.
pub struct StdioTransport {
    pub sink: OutboundSink,
    pub stream: InboundStream,
}

/// Starts the reader and writer tasks on `input`/`output` (stdin/stdout, or pipes in tests).
pub fn start<R, W>(input: R, output: W) -> StdioTransport
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (to_client, frames) = mpsc::channel::<Vec<u8>>(OUTBOUND_CAPACITY);
    let (to_server, inbound) = mpsc::channel::<ClientJsonRpcMessage>(INBOUND_CAPACITY);
    let gate = PendingRequests::default();
    tokio::spawn(write_loop(output, frames));
    tokio::spawn(read_loop(input, to_server, to_client.clone(), gate.clone()));
    StdioTransport {
        sink: OutboundSink {
            frames: PollSender::new(to_client),
            gate,
        },
        stream: InboundStream(inbound),
    }
}

/// The stdio transport of the real process.
pub fn stdio() -> StdioTransport {
    start(fd::stdin(), fd::stdout())
}

/// stdin and stdout read and written through the runtime's event loop when they are pipes or
/// sockets (what MCP clients give a server: Python's subprocess makes pipes, Node's makes
/// Unix sockets). tokio's own `Stdin`/`Stdout` hand every read and write to a blocking
/// thread, which costs two thread wake-ups per message; a terminal or a file keeps them.
mod fd {
    use std::os::{
        fd::{AsFd, OwnedFd},
        unix::fs::FileTypeExt,
    };

    use tokio::io::{AsyncRead, AsyncWrite};

    enum Kind {
        Pipe,
        Socket,
        Other,
    }

    /// A duplicate of `fd` (the same open file) and what it is.
    fn open(fd: impl AsFd) -> Option<(OwnedFd, Kind)> {
        let owned = fd.as_fd().try_clone_to_owned().ok()?;
        let file = std::fs::File::from(owned);
        let kind = match file.metadata().ok()?.file_type() {
            t if t.is_fifo() => Kind::Pipe,
            t if t.is_socket() => Kind::Socket,
            _ => Kind::Other,
        };
        Some((file.into(), kind))
    }

    fn socket(fd: OwnedFd) -> Option<tokio::net::UnixStream> {
        let socket = std::os::unix::net::UnixStream::from(fd);
        socket.set_nonblocking(true).ok()?;
        tokio::net::UnixStream::from_std(socket).ok()
    }

    pub fn stdin() -> Box<dyn AsyncRead + Unpin + Send> {
        let evented: Option<Box<dyn AsyncRead + Unpin + Send>> = match open(std::io::stdin()) {
            Some((fd, Kind::Pipe)) => tokio::net::unix::pipe::Receiver::from_owned_fd(fd)
                .ok()
                .map(|r| Box::new(r) as _),
            Some((fd, Kind::Socket)) => socket(fd).map(|s| Box::new(s) as _),
            _ => None,
        };
        evented.unwrap_or_else(|| Box::new(tokio::io::stdin()))
    }

    pub fn stdout() -> Box<dyn AsyncWrite + Unpin + Send> {
        let evented: Option<Box<dyn AsyncWrite + Unpin + Send>> = match open(std::io::stdout()) {
            Some((fd, Kind::Pipe)) => tokio::net::unix::pipe::Sender::from_owned_fd(fd)
                .ok()
                .map(|w| Box::new(w) as _),
            Some((fd, Kind::Socket)) => socket(fd).map(|s| Box::new(s) as _),
            _ => None,
        };
        evented.unwrap_or_else(|| Box::new(tokio::io::stdout()))
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(mut output: W, mut frames: mpsc::Receiver<Vec<u8>>) {
    while let Some(mut frame) = frames.recv().await {
        frame.push(b'\n');
        if output.write_all(&frame).await.is_err() || output.flush().await.is_err() {
            // The client closed stdout: nothing more can reach it.
            break;
        }
    }
}

async fn read_loop<R: AsyncRead + Unpin>(
    input: R,
    to_server: mpsc::Sender<ClientJsonRpcMessage>,
    to_client: mpsc::Sender<Vec<u8>>,
    gate: PendingRequests,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    let mut line = Vec::new();
    loop {
        line.clear();
        let outcome = read_line(&mut reader, &mut line, MAX_LINE_BYTES).await;
        let reject = |r: Rejection| to_client.send(r.to_bytes());
        match outcome {
            Ok(LineEnd::Eof) if line.iter().all(u8::is_ascii_whitespace) => break,
            Ok(LineEnd::TooLong(long)) => {
                let size = long.size;
                let _ = reject(Rejection::new(
                    long.id(),
                    jsonrpc::INVALID_REQUEST,
                    format!(
                        "Invalid Request: the message is {size} bytes or more; the limit is {MAX_LINE_BYTES} bytes"
                    ),
                ))
                .await;
                continue;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::debug!(%error, "stdin closed");
                break;
            }
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match jsonrpc::classify(&line) {
            Frame::Message(message) => {
                if let Some(refused) = jsonrpc::not_in_revision(&message) {
                    let _ = reject(refused).await;
                    continue;
                }
                if let Err(refused) = gate.admit(&message) {
                    let _ = reject(refused).await;
                    continue;
                }
                if to_server.send(*message).await.is_err() {
                    break;
                }
            }
            Frame::Reject(rejection) => {
                tracing::debug!(message = %rejection.message, "answered an invalid frame");
                let _ = reject(rejection).await;
            }
            Frame::Drop(reason) => tracing::debug!(%reason, "dropped an invalid notification"),
        }
    }
}

/// What rmcp writes to: serializes each message for the writer task and notes answers.
pub struct OutboundSink {
    frames: PollSender<Vec<u8>>,
    gate: PendingRequests,
}

impl Sink<ServerJsonRpcMessage> for OutboundSink {
    type Error = std::io::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.frames
            .poll_reserve(cx)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stdout is closed"))
    }

    fn start_send(mut self: Pin<&mut Self>, item: ServerJsonRpcMessage) -> Result<(), Self::Error> {
        self.gate.answered(&item);
        let bytes = serde_json::to_vec(&item).map_err(std::io::Error::other)?;
        self.frames
            .send_item(bytes)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stdout is closed"))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Result<(), Self::Error>> {
        self.frames.close();
        Poll::Ready(Ok(()))
    }
}

/// What rmcp reads from: valid messages only.
pub struct InboundStream(mpsc::Receiver<ClientJsonRpcMessage>);

impl Stream for InboundStream {
    type Item = ClientJsonRpcMessage;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn long_lines_are_refused_without_being_kept() {
        let mut input = vec![b'x'; 5000];
        input.extend_from_slice(b"\nshort\n");
        let mut reader = BufReader::with_capacity(64, &input[..]);
        let mut line = Vec::new();
        assert!(matches!(
            read_line(&mut reader, &mut line, 1000).await.unwrap(),
            LineEnd::TooLong(long) if long.size == 5000
        ));
        assert!(line.is_empty());
        line.clear();
        assert!(matches!(
            read_line(&mut reader, &mut line, 1000).await.unwrap(),
            LineEnd::Newline
        ));
        assert_eq!(line, b"short");
    }

    #[tokio::test]
    async fn invalid_lines_get_answers_and_valid_ones_reach_the_server() {
        let (mut client_in, server_in) = tokio::io::duplex(1 << 16);
        let (server_out, mut client_out) = tokio::io::duplex(1 << 16);
        let mut transport = start(server_in, server_out);
        client_in
            .write_all(b"garbage\n{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}\n\n{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":1}\n")
            .await
            .unwrap();
        drop(client_in);
        use futures::StreamExt;
        let first = transport.stream.next().await.unwrap();
        assert!(matches!(first, ClientJsonRpcMessage::Request(_)));
        assert!(transport.stream.next().await.is_none());
        drop(transport.sink);
        let mut out = String::new();
        client_out.read_to_string(&mut out).await.unwrap();
        let answers: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(answers.len(), 2, "{out}");
        assert_eq!(answers[0]["error"]["code"], jsonrpc::PARSE_ERROR);
        assert_eq!(answers[0]["id"], Value::Null);
        assert_eq!(answers[1]["id"], 5);
    }
}
