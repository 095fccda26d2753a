//! The accept loop: HTTP/1.1 connections (and the websockets that upgrade from them) under a
//! cap, each with a header-read and a keep-alive timeout, stopped gracefully.
//!
//! `axum::serve` has none of these knobs. The connections are hyper's HTTP/1 ones rather than
//! those of hyper-util's `auto` builder: `auto` first reads the bytes that tell HTTP/1 from
//! HTTP/2 with no timeout at all, so a client that connected and sent nothing would hold its
//! place for ever. The server spoke only HTTP/1.1 before too (axum was built without HTTP/2);
//! HTTP/2 and TLS belong at a reverse proxy.
//!
//! hyper starts the header-read timer whenever it waits for a request, the next one on a
//! kept-alive connection included, so that timer also bounds how long an idle connection is
//! kept; the keep-alive timeout closes one sooner.
//!
//! A client that stops reading is the other way to hold a place: a response (or a websocket's
//! messages) it does not take fills the socket's buffers, and the write waits for ever, graceful
//! shutdown included, as it waits for the response to be sent. A write that makes no progress
//! for the keep-alive timeout therefore fails and ends the connection, websockets included; and
//! a closing connection is dropped after [`CLOSING_GRACE`], so shutdown waits no longer.

use std::future::{self, Future};
use std::io;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::ConnectionLimits;
use crate::codes::Code;
use crate::metrics::Metrics;

/// What a connection over the cap reads before it is closed: a client sees why, and when to come
/// back, rather than a bare reset. It carries the headers every other answer carries, and the
/// error shape every other error has.
static OVER_CAPACITY: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let body = super::errors::error_body(
        Code::Unavailable,
        "the server holds as many connections as it may (LM_MAX_CONNECTIONS); try again in a \
         moment",
    )
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\n\
         connection: close\r\n\
         retry-after: 1\r\n\
         content-type: application/json\r\n\
         content-length: {}\r\n\
         cache-control: no-store\r\n\
         content-security-policy: frame-ancestors 'none'\r\n\
         x-frame-options: DENY\r\n\
         x-content-type-options: nosniff\r\n\
         referrer-policy: no-referrer\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
});

/// How long a closing connection (the server stopping, or nothing moved for the keep-alive
/// timeout) may take to finish its request in flight before it is dropped. Above the default
/// request budget (30 s), so that a query that may run finishes; it stops a client that reads a
/// response a byte at a time, which the write-stall limit does not.
const CLOSING_GRACE: Duration = Duration::from_secs(35);

/// Serves `router` on `listener` until `shutdown` completes; then accepts nothing more, lets
/// every connection finish its request in flight (within [`CLOSING_GRACE`]), and returns once
/// they are closed (upgraded websockets are not waited for).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    let places = Arc::new(Semaphore::new(
        limits.max_connections.get().min(Semaphore::MAX_PERMITS),
    ));
    let connections = TaskTracker::new();
    let stop = CancellationToken::new();
    let mut backoff = AcceptBackoff::default();
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                backoff.succeeded();
                stream
            }
            // The client gave up before it was accepted: nothing to do about it.
            Err(error) if is_connection_error(&error) => continue,
            // Out of file descriptors (EMFILE, ENFILE) or memory: retrying at once would spin
            // on the same error, so wait for connections to close.
            Err(error) => {
                let pause = backoff.failed(&error);
                tokio::select! {
                    () = tokio::time::sleep(pause) => continue,
                    () = &mut shutdown => break,
                }
            }
        };
        let Ok(place) = places.clone().try_acquire_owned() else {
            refuse(&stream, &metrics);
            continue;
        };
        let socket = Socket::new(
            stream,
            Place::new(place, metrics.clone()),
            limits.keep_alive_timeout.get(),
        );
        connections.spawn(serve_connection(
            socket,
            router.clone(),
            limits,
            stop.clone(),
        ));
    }
    drop(listener);
    stop.cancel();
    connections.close();
    connections.wait().await;
}

/// Over the cap, a connection costs a file descriptor for a moment only: it is told 503 if its
/// socket takes the bytes at once, and closed.
fn refuse(stream: &TcpStream, metrics: &Metrics) {
    metrics.connection_refused();
    // Best effort: a client that already sent its request may see a reset instead.
    let _ = stream.try_write(&OVER_CAPACITY);
}

async fn serve_connection(
    socket: Socket,
    router: Router,
    limits: ConnectionLimits,
    stop: CancellationToken,
) {
    let activity = socket.activity.clone();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout.get());
    let service = TowerToHyperService::new(router);
    let mut connection = pin!(
        builder
            .serve_connection(TokioIo::new(socket), service)
            .with_upgrades()
    );
    // Set once closing: when the connection is dropped, its request finished or not.
    let mut dropped_at: Option<Instant> = None;
    loop {
        let closing = dropped_at.is_some();
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            // Closes an idle connection at once; one with a request in flight once it is answered.
            () = stop.cancelled(), if !closing => {
                dropped_at = Some(Instant::now() + CLOSING_GRACE);
                connection.as_mut().graceful_shutdown();
            }
            () = activity.quiet_for(limits.keep_alive_timeout.get()), if !closing => {
                dropped_at = Some(Instant::now() + CLOSING_GRACE);
                connection.as_mut().graceful_shutdown();
            }
            () = sleep_until_some(dropped_at) => {
                tracing::debug!("a closing connection ran past its grace and is dropped");
                return;
            }
        }
    }
}

/// Completes at `deadline`, or never without one.
async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => future::pending().await,
    }
}

/// A connection's place under the cap, held until its socket closes.
struct Place {
    _permit: OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
}

impl Place {
    fn new(permit: OwnedSemaphorePermit, metrics: Arc<Metrics>) -> Self {
        metrics.connection_opened();
        Self {
            _permit: permit,
            metrics,
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.metrics.connection_closed();
    }
}

/// A client's socket. It holds the connection's place, so a websocket, which hyper hands the
/// socket to, counts against the cap as long as it is open; and it notes when bytes last moved.
struct Socket {
    /// Declared first, so dropped first: the place is free by the time the client sees the close.
    _place: Place,
    stream: TcpStream,
    activity: Arc<Activity>,
    stall: WriteStall,
}

impl Socket {
    fn new(stream: TcpStream, place: Place, stall_limit: Duration) -> Self {
        Self {
            _place: place,
            stream,
            activity: Arc::new(Activity::new()),
            stall: WriteStall::new(stall_limit),
        }
    }

    fn wrote(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            self.activity.touch();
        }
        self.stall.check(cx, polled)
    }
}

/// How long a write may wait on a client that takes no bytes.
struct WriteStall {
    limit: Duration,
    /// Armed when a write first waits, disarmed when one completes.
    timer: Option<Pin<Box<Sleep>>>,
}

impl WriteStall {
    fn new(limit: Duration) -> Self {
        Self { limit, timer: None }
    }

    /// Passes a write's outcome on, or fails it once writes have waited longer than the limit.
    fn check<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.timer = None;
            return polled;
        }
        let limit = self.limit;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took no bytes for the keep-alive timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Socket {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.wrote(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.wrote(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_flush(cx);
        self.stall.check(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// When bytes last moved on a connection, in tokio's clock (which tests can pause).
struct Activity {
    opened: Instant,
    /// Milliseconds after `opened`.
    last: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let elapsed = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(elapsed, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.opened + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }

    /// Completes once no byte has moved for `quiet`.
    async fn quiet_for(&self, quiet: Duration) {
        loop {
            let deadline = self.last() + quiet;
            if deadline <= Instant::now() {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// Errors of one connection, which the next accept does not repeat.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// The pause after a failed accept: from 10 ms, doubling up to a second while accepts keep
/// failing. One log line when a streak of failures starts and one when it ends, rather than one
/// per failure.
#[derive(Debug, Default)]
struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const LONGEST: Duration = Duration::from_secs(1);

    fn failed(&mut self, error: &io::Error) -> Duration {
        if self.failures == 0 {
            tracing::warn!(
                %error,
                "cannot accept connections (out of file descriptors? see LM_MAX_CONNECTIONS); \
                 retrying, at most once a second, until some close"
            );
        }
        let pause = Self::FIRST
            .saturating_mul(1 << self.failures.min(16))
            .min(Self::LONGEST);
        self.failures = self.failures.saturating_add(1);
        pause
    }

    fn succeeded(&mut self) {
        if self.failures > 0 {
            tracing::info!(failures = self.failures, "accepting connections again");
            self.failures = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_accepts_back_off_to_a_second_and_start_over_after_a_success() {
        let mut backoff = AcceptBackoff::default();
        let emfile = io::Error::from_raw_os_error(24);
        let pauses: Vec<u128> = (0..10)
            .map(|_| backoff.failed(&emfile).as_millis())
            .collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        backoff.succeeded();
        assert_eq!(backoff.failed(&emfile), Duration::from_millis(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_quiet_once_no_byte_moved_for_the_whole_span() {
        let activity = Activity::new();
        tokio::time::advance(Duration::from_secs(3)).await;
        activity.touch();
        let started = Instant::now();
        activity.quiet_for(Duration::from_secs(5)).await;
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }
}
