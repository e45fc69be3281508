//! Graceful shutdown: after the shutdown signal the server refuses new connections, lets a
//! request that is still arriving finish, and stops after the shutdown timeout at the latest.
//! The signal here is the application's shutdown handle, which SIGTERM and Ctrl-C also trigger.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use mep24web_tests::{TestApp, spawn_app, spawn_app_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LOGIN_BODY: &str = "username=admin&password=Falsches-Passwort-1";

/// Opens a connection and sends a login request with only the first part of its body, so the
/// request stays in flight until the test sends the rest.
async fn start_slow_login(app: &TestApp) -> TcpStream {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, app.port))
        .await
        .expect("connecting to the server");
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: acme.localhost:{}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        app.port,
        LOGIN_BODY.len()
    );
    stream
        .write_all(head.as_bytes())
        .await
        .expect("sending the head");
    stream
        .write_all(&LOGIN_BODY.as_bytes()[..10])
        .await
        .expect("sending the first part of the body");
    // Give the server time to read the head and start waiting for the body.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream
}

/// Waits up to two seconds until connecting to the server's port fails.
async fn wait_until_refused(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .is_err()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "new connections are still accepted 2 s after the shutdown signal"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn shutdown_drains_slow_request() {
    let app = spawn_app().await;
    app.create_tenant("acme", "Acme Apotheke").await;
    let mut stream = start_slow_login(&app).await;

    app.begin_shutdown();
    wait_until_refused(app.port).await;

    stream
        .write_all(&LOGIN_BODY.as_bytes()[10..])
        .await
        .expect("sending the rest of the body after the shutdown signal");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("the response did not arrive within 10 s")
        .expect("reading the response");
    let response = String::from_utf8_lossy(&response);
    // A wrong password gets the login page again with 401: the handler ran to its end.
    assert!(
        response.starts_with("HTTP/1.1 401"),
        "the request in flight got: {response}"
    );

    tokio::time::timeout(Duration::from_secs(10), app.stop())
        .await
        .expect("the server did not stop within 10 s after its last request");
}

#[tokio::test]
async fn shutdown_timeout_ends_drain() {
    let app = spawn_app_with(|settings| settings.shutdown_timeout_seconds = 1).await;
    app.create_tenant("acme", "Acme Apotheke").await;
    // The body never completes; without the shutdown timeout the drain would wait for the
    // 30-second request timeout.
    let _stream = start_slow_login(&app).await;

    let started = Instant::now();
    app.begin_shutdown();
    tokio::time::timeout(Duration::from_secs(10), app.stop())
        .await
        .expect("the server did not stop within 10 s");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "the server stopped after {took:?}, before the request or the timeout ended"
    );
    assert!(
        took < Duration::from_secs(5),
        "the server took {took:?} to stop, although the shutdown timeout is 1 s"
    );
}
