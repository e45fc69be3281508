//! The TCP connection under an SMTP session, opened here instead of by lettre so that it has
//! `TCP_NODELAY` set.
//!
//! lettre 0.11.23 writes the message data and the final `\r\n.\r\n` in two writes, and its
//! `connect_tokio1` leaves Nagle's algorithm on. The five bytes of the dot then wait until the
//! server acknowledges the message data. A server that has nothing to send before the dot arrives
//! delays that acknowledgement (by at least 40 ms on Linux), so each mail took that long.
//!
//! NOTE: once a lettre release sets `TCP_NODELAY` itself, `AsyncSmtpConnection::connect_tokio1`
//! can replace this module.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use lettre::transport::smtp::client::{AsyncTokioStream, TlsParameters};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt};

/// Opens a TCP connection to `host` and `port` with `TCP_NODELAY` set. Tries each resolved
/// address in turn, as lettre does. The caller bounds the time.
pub(super) async fn connect_tcp(host: &str, port: u16) -> io::Result<TcpStream> {
    let stream = TcpStream::connect((host, port)).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Wraps a TCP connection in TLS from the first byte, for `smtps://`. The handshake runs in
/// lettre's own TLS code, so certificates are checked exactly as for STARTTLS.
///
/// lettre treats the result as a plain stream, so `AsyncSmtpConnection::is_encrypted` and
/// `can_starttls` are wrong for it. Our client calls neither on an `smtps://` connection.
pub(super) async fn wrap_in_tls(
    stream: TcpStream,
    parameters: TlsParameters,
) -> Result<Box<dyn AsyncTokioStream>, lettre::transport::smtp::Error> {
    // lettre 0.11.23 offers implicit TLS on a caller's socket only through this type, which it
    // has marked deprecated as "not meant to be made public" since 0.11.14.
    #[expect(
        deprecated,
        reason = "the one way to run lettre's TLS handshake on our own socket"
    )]
    let mut tls =
        lettre::transport::smtp::client::AsyncNetworkStream::use_existing_tokio1(Box::new(stream));
    tls.upgrade_tls(parameters).await?;
    Ok(Box::new(ImplicitTls(tls.compat())))
}

/// lettre's TLS stream seen through tokio's I/O traits, which `connect_with_transport` requires.
#[expect(deprecated, reason = "lettre's TLS stream type, see `wrap_in_tls`")]
#[derive(Debug)]
struct ImplicitTls(Compat<lettre::transport::smtp::client::AsyncNetworkStream>);

impl AsyncTokioStream for ImplicitTls {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().peer_addr()
    }
}

impl AsyncRead for ImplicitTls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(context, buffer)
    }
}

impl AsyncWrite for ImplicitTls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(context, buffer)
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(context)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(context)
    }
}
