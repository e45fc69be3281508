//! Three instances on one PostgreSQL database and one Redis, behind nginx with the wildcard-host
//! configuration from `deploy/nginx/mep24web.conf`, all on loopback.
//!
//! A planner logs in through nginx. One instance stops under load while every request with the
//! same session goes on succeeding. A tenant suspended through one instance is rejected by the
//! other two within one second.
//!
//! Runs on the PostgreSQL + Redis run of the suite and needs Debian's `nginx` and `openssl`,
//! which `.ci/run` installs; without them it says so and returns.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mep24web_entities::session;
use mep24web_tenancy::{Slug, change_feed, provision};
use mep24web_tests::{TestApp, spawn_app_with};
use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use secrecy::SecretString;

const PASSWORD: &str = "Skalierung-Test-2026";

/// nginx running with a configuration of its own, stopped when dropped.
struct Nginx {
    child: Child,
    https_port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM makes the master stop its workers too; SIGKILL would leave them running.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

fn tool(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
        .iter()
        .map(|folder| Path::new(folder).join(name))
        .find(|path| path.exists())
}

/// Renders the deploy configuration for loopback: the three instances as upstream servers, the
/// test's ports instead of 80 and 443, `localhost` instead of `mep24web.de`, and a self-signed
/// certificate. Everything else, retries and headers included, stays as shipped.
fn start_nginx(nginx: &Path, openssl: &Path, https_port: u16, upstreams: &[u16]) -> Nginx {
    let dir = tempfile::tempdir().expect("a temp folder for nginx");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let status = Command::new(openssl)
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl could not make a certificate");

    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx/mep24web.conf"),
    )
    .expect("deploy/nginx/mep24web.conf");
    let http_port = free_port();
    let servers: String = upstreams
        .iter()
        .map(|port| format!("    server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;\n"))
        .collect();
    let mut rendered = String::new();
    for line in shipped.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("server 127.0.0.1:") {
            rendered.push_str(&servers);
            continue;
        }
        if trimmed.starts_with("listen [::]") {
            continue;
        }
        let line = line
            .replace("listen 80", &format!("listen 127.0.0.1:{http_port}"))
            .replace("listen 443", &format!("listen 127.0.0.1:{https_port}"))
            .replace("mep24web.de", "localhost")
            .replace(
                "/etc/ssl/mep24web/fullchain.pem",
                &cert.display().to_string(),
            )
            .replace("/etc/ssl/mep24web/privkey.pem", &key.display().to_string());
        rendered.push_str(&line);
        rendered.push('\n');
    }
    let site = dir.path().join("site.conf");
    std::fs::write(&site, rendered).expect("writing the site");
    let folder = dir.path().display();
    let main = format!(
        "worker_processes 1;\n\
         daemon off;\n\
         pid {folder}/nginx.pid;\n\
         error_log {folder}/error.log warn;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n\
           access_log off;\n\
           client_body_temp_path {folder}/body;\n\
           proxy_temp_path {folder}/proxy;\n\
           fastcgi_temp_path {folder}/fastcgi;\n\
           uwsgi_temp_path {folder}/uwsgi;\n\
           scgi_temp_path {folder}/scgi;\n\
           include {};\n\
         }}\n",
        site.display()
    );
    let config = dir.path().join("nginx.conf");
    std::fs::write(&config, main).expect("writing nginx.conf");
    // The workers run as an unprivileged user, which must read the certificate.
    let _ = Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(dir.path())
        .status();
    let child = Command::new(nginx)
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx starts");
    Nginx {
        child,
        https_port,
        _dir: dir,
    }
}

/// Builds a client that reaches `host` at nginx's TLS port and accepts its self-signed
/// certificate.
fn client_via(nginx: &Nginx, host: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .resolve(host, SocketAddr::from(([127, 0, 0, 1], nginx.https_port)))
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("an HTTPS client")
}

async fn wait_until_listening(nginx: &Nginx) {
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", nginx.https_port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "nginx does not listen"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn three_instances_behind_nginx_share_sessions_and_tenant_changes() {
    let (Ok(_), Ok(redis_url)) = (
        std::env::var("MEP24WEB_TEST_DATABASE_URL"),
        std::env::var("MEP24WEB_TEST_REDIS_URL"),
    ) else {
        eprintln!("needs MEP24WEB_TEST_DATABASE_URL and MEP24WEB_TEST_REDIS_URL; not run");
        return;
    };
    let (Some(nginx_binary), Some(openssl)) = (tool("nginx"), tool("openssl")) else {
        eprintln!("needs Debian's nginx and openssl (installed by .ci/run); not run");
        return;
    };
    let https_port = free_port();
    let prefix = format!("mep24web-scale-{}", uuid::Uuid::new_v4().simple());
    let configure = |database: Option<(String, String)>| {
        let redis_url = redis_url.clone();
        let prefix = prefix.clone();
        move |settings: &mut mep24web::settings::Settings| {
            settings.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
            settings.redis_url = Some(SecretString::from(redis_url));
            settings.redis_key_prefix = prefix;
            settings.public_url = Some(format!("https://localhost:{https_port}").parse().unwrap());
            if let Some((owner, app)) = database {
                settings.migration_database_url = Some(SecretString::from(owner));
                settings.database_url = Some(SecretString::from(app));
            }
        }
    };
    let first = spawn_app_with(configure(None)).await;
    let shared = first.database_urls();
    let second = spawn_app_with(configure(shared.clone())).await;
    let third = spawn_app_with(configure(shared)).await;
    let instances: [&TestApp; 3] = [&first, &second, &third];
    let nginx = start_nginx(
        &nginx_binary,
        &openssl,
        https_port,
        &instances.map(|instance| instance.port),
    );
    wait_until_listening(&nginx).await;

    // Provisioned through the first instance's database; every instance serves it.
    let tenant = first
        .create_tenant("skalierung", "Apotheke Skalierung")
        .await;
    let host = format!("{}.localhost", tenant.slug);
    let base = format!("https://{host}:{}", nginx.https_port);
    let browser = client_via(&nginx, &host);
    let setup_path = tenant
        .setup_link
        .split_once("/setup/")
        .map(|(_, token)| format!("/setup/{token}"))
        .expect("a setup link");
    let response = browser
        .post(format!("{base}{setup_path}"))
        .form(&[("password", PASSWORD), ("password_repeat", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "setup through nginx"
    );
    let response = browser
        .post(format!("{base}/login"))
        .form(&[
            ("username", tenant.admin_username.as_str()),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "login through nginx"
    );
    let response = browser.get(format!("{base}/admin")).send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "start page through nginx"
    );
    // The login replaced the session of the setup, and it is in the shared Redis, not in the
    // database.
    assert_eq!(first.stored_sessions().await.len(), 1);
    assert_eq!(session::Entity::find().count(first.db()).await.unwrap(), 0);

    // Load from four clients with the same session while the second instance stops.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (browser, base) = (browser.clone(), base.clone());
        let (stop, done, failures) = (stop.clone(), done.clone(), failures.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match browser.get(format!("{base}/admin")).send().await {
                    Ok(response) if response.status() == StatusCode::OK => {}
                    Ok(response) => failures
                        .lock()
                        .unwrap()
                        .push(format!("status {}", response.status())),
                    Err(error) => failures.lock().unwrap().push(error.to_string()),
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before_stop = done.load(Ordering::Relaxed);
    second.stop().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    let total = done.load(Ordering::Relaxed);
    assert!(
        before_stop > 0 && total > before_stop,
        "{before_stop} then {total} requests"
    );
    assert_eq!(
        failures.lock().unwrap().as_slice(),
        &[] as &[String],
        "of {total} requests"
    );

    // Suspended through the first instance's side (as the CLI does): both running instances
    // refuse the tenant within one second, asked directly and through nginx.
    let slug = Slug::parse(&tenant.slug).unwrap();
    assert!(
        provision::set_status(first.db(), &slug, true)
            .await
            .unwrap()
    );
    change_feed::announce(&redis_url, &prefix).await.unwrap();
    let started = Instant::now();
    for instance in [&first, &third] {
        let direct = instance.client();
        let url = instance.tenant_url(&tenant.slug, "/login");
        loop {
            let status = direct.get(&url).send().await.unwrap().status();
            if status == StatusCode::FORBIDDEN {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "instance on port {} still serves after {:?}",
                instance.port,
                started.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let response = browser.get(format!("{base}/admin")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}
