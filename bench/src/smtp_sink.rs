//! A loopback SMTP server that accepts every message, keeps only the time it arrived, and so
//! measures how fast the outbox delivers. It speaks the plain SMTP that lettre sends without TLS
//! or AUTH: EHLO or HELO, MAIL, RCPT, DATA, RSET, NOOP and QUIT.
//!
//! In quick-ACK mode the sink acknowledges every TCP segment at once instead of delaying the ACK
//! by up to 40 ms as Linux does. lettre 0.11 writes a message and its closing `.` in two writes
//! on a socket without `TCP_NODELAY`, so Nagle's algorithm keeps the dot back until that delayed
//! ACK arrives. Quick-ACK mode shows what delivery would reach without that stall.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use socket2::SockRef;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The running sink; dropping it stops accepting connections.
pub struct SmtpSink {
    pub port: u16,
    arrivals: Arc<Mutex<Vec<Instant>>>,
    quick_ack: Arc<AtomicBool>,
    accept_task: tokio::task::JoinHandle<()>,
}

impl SmtpSink {
    /// Listens on a free port of 127.0.0.1.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let quick_ack = Arc::new(AtomicBool::new(false));
        let accept_task = tokio::spawn(accept(listener, arrivals.clone(), quick_ack.clone()));
        Ok(Self {
            port,
            arrivals,
            quick_ack,
            accept_task,
        })
    }

    /// Turns quick-ACK mode on or off for the reads that follow.
    pub fn set_quick_ack(&self, on: bool) {
        self.quick_ack.store(on, Ordering::Relaxed);
    }

    /// Returns the arrival times of all messages so far, in order.
    pub fn arrivals(&self) -> Vec<Instant> {
        self.arrivals
            .lock()
            .map(|arrivals| arrivals.clone())
            .unwrap_or_default()
    }

    pub fn count(&self) -> usize {
        self.arrivals.lock().map_or(0, |arrivals| arrivals.len())
    }

    /// Forgets the messages received so far.
    pub fn clear(&self) {
        if let Ok(mut arrivals) = self.arrivals.lock() {
            arrivals.clear();
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

async fn accept(
    listener: TcpListener,
    arrivals: Arc<Mutex<Vec<Instant>>>,
    quick_ack: Arc<AtomicBool>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let arrivals = arrivals.clone();
        let quick_ack = quick_ack.clone();
        tokio::spawn(async move {
            if let Err(error) = converse(stream, arrivals, quick_ack).await {
                eprintln!("SMTP sink: connection failed: {error}");
            }
        });
    }
}

/// Serves one connection until QUIT or until the client closes it.
async fn converse(
    stream: TcpStream,
    arrivals: Arc<Mutex<Vec<Instant>>>,
    quick_ack: Arc<AtomicBool>,
) -> std::io::Result<()> {
    let mut stream = BufReader::new(stream);
    stream.write_all(b"220 bench-sink ESMTP\r\n").await?;
    let mut line = String::new();
    loop {
        line.clear();
        let read = stream.read_line(&mut line).await?;
        acknowledge_now(&stream, &quick_ack);
        if read == 0 {
            return Ok(());
        }
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250 bench-sink\r\n",
            "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
            "DATA" => {
                stream
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                skip_message(&mut stream, &quick_ack).await?;
                if let Ok(mut arrivals) = arrivals.lock() {
                    arrivals.push(Instant::now());
                }
                b"250 OK queued\r\n"
            }
            "QUIT" => {
                stream.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 Command not implemented\r\n",
        };
        stream.write_all(reply).await?;
    }
}

/// Sends the pending ACK at once in quick-ACK mode. Linux resets the option by itself, so it is
/// set again after every read.
fn acknowledge_now(stream: &BufReader<TcpStream>, quick_ack: &AtomicBool) {
    if quick_ack.load(Ordering::Relaxed) {
        let _ = SockRef::from(stream.get_ref()).set_tcp_quickack(true);
    }
}

/// Reads message lines up to the line with a single dot.
async fn skip_message(
    stream: &mut BufReader<TcpStream>,
    quick_ack: &AtomicBool,
) -> std::io::Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = stream.read_until(b'\n', &mut line).await?;
        acknowledge_now(stream, quick_ack);
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(());
        }
    }
}
