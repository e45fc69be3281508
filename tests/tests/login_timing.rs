//! Login timing: a login with an unknown username takes as long as one with a known username
//! and a wrong password, because the unknown one is verified against a dummy hash.
//!
//! The test times interleaved requests to the real `/login` endpoint and compares the medians
//! with a bootstrap confidence interval. The cost of one password verification is measured in
//! the same run, as the difference between a wrong password and `GET /login` (the same page
//! without any password check), and the tolerance is half of it. A path that skips the hash
//! differs by a whole verification and fails. Scheduler noise on a loaded machine and the few
//! database writes that only a known account costs (counting the failed attempt) stay below it.
//! A second assertion checks that the verification cost is resolved well enough for this
//! comparison, so the test cannot pass merely because the measurements are too noisy.

use std::time::{Duration, Instant};

use mep24web_entities::{account, tenant_settings};
use mep24web_tests::{TestApp, TestTenant, spawn_app_with};
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use secrecy::SecretString;

/// Rounds of measurement. Each round sends one request of every kind.
const ROUNDS: usize = 60;
/// Rounds sent before measuring, to open the connection and compute the dummy hash.
const WARM_UP_ROUNDS: usize = 5;
/// Bootstrap resamples for the confidence interval of a difference of medians.
const BOOTSTRAP_RESAMPLES: usize = 2000;
/// Two-sided confidence level of the interval.
const CONFIDENCE: f64 = 0.99;

const PASSWORD: &str = "Planung-Sommer-2026";
const WRONG_PASSWORD: &str = "Planung-Winter-2026";
const UNKNOWN_USERNAME: &str = "niemand.unbekannt";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Probe {
    /// `POST /login` with a username that no account has.
    UnknownUser,
    /// `POST /login` with the administrator's username and a wrong password.
    WrongPassword,
    /// `GET /login`, the same page without any password check.
    FormOnly,
}

/// Orders of the probes per round, rotated so that each kind runs first, second and third
/// equally often.
const ORDERS: [[Probe; 3]; 3] = [
    [Probe::UnknownUser, Probe::WrongPassword, Probe::FormOnly],
    [Probe::WrongPassword, Probe::FormOnly, Probe::UnknownUser],
    [Probe::FormOnly, Probe::UnknownUser, Probe::WrongPassword],
];

#[tokio::test]
async fn login_unknown_user_costs_like_wrong_password() {
    // Without these limits every probe after the first 20 would get the rate limit page.
    let app = spawn_app_with(|settings| {
        settings.login_limit_per_ip = 0;
        settings.login_limit_per_tenant = 0;
    })
    .await;
    let tenant = app
        .create_tenant("zeitmessung", "Apotheke Zeitmessung")
        .await;
    prepare_admin(&app, &tenant).await;
    let client = app.client();

    for round in 0..WARM_UP_ROUNDS {
        for probe in ORDERS[round % ORDERS.len()] {
            send(&client, &app, &tenant, probe).await;
        }
    }
    let mut unknown = Vec::with_capacity(ROUNDS);
    let mut wrong = Vec::with_capacity(ROUNDS);
    let mut form_only = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        for probe in ORDERS[round % ORDERS.len()] {
            let elapsed = send(&client, &app, &tenant, probe).await;
            match probe {
                Probe::UnknownUser => unknown.push(elapsed),
                Probe::WrongPassword => wrong.push(elapsed),
                Probe::FormOnly => form_only.push(elapsed),
            }
        }
    }

    let mut random = SplitMix64(0x6d65_7032_3477_6562);
    let (hash_cost, hash_low, hash_high) = median_difference(&wrong, &form_only, &mut random);
    let tolerance = hash_cost / 2.0;
    let (unknown_vs_wrong, low, high) = median_difference(&unknown, &wrong, &mut random);
    let summary = format!(
        "medians: unknown user {:.1} ms, wrong password {:.1} ms, form only {:.1} ms; \
         one verification (wrong password − form only) {hash_cost:.1} ms \
         ({:.0}% interval {hash_low:.1} to {hash_high:.1} ms), tolerance ±{tolerance:.1} ms; \
         unknown − wrong {unknown_vs_wrong:.1} ms (interval {low:.1} to {high:.1} ms)",
        median(&unknown),
        median(&wrong),
        median(&form_only),
        CONFIDENCE * 100.0,
    );
    eprintln!("{summary}");

    assert!(
        hash_low > tolerance,
        "the cost of one verification is not resolved well enough to compare the login paths; \
         {summary}"
    );
    assert!(
        low <= tolerance && high >= -tolerance,
        "unknown usernames and wrong passwords take measurably different times, so timing \
         reveals which usernames exist; {summary}"
    );
}

/// Gives the administrator a password and raises the lockout limit, so that every wrong
/// password takes the same path: count the failure, no lockout.
async fn prepare_admin(app: &TestApp, tenant: &TestTenant) {
    let hash = app
        .state()
        .hasher
        .hash(&SecretString::from(PASSWORD))
        .await
        .unwrap();
    let updated = account::Entity::update_many()
        .col_expr(account::Column::PasswordHash, Expr::value(hash))
        .filter(account::Column::TenantId.eq(tenant.id.get()))
        .filter(account::Column::Kind.eq("planner"))
        .exec(app.db())
        .await
        .unwrap();
    assert_eq!(updated.rows_affected, 1);
    let updated = tenant_settings::Entity::update_many()
        .col_expr(
            tenant_settings::Column::MaxFailedLogins,
            Expr::value(100_000),
        )
        .filter(tenant_settings::Column::TenantId.eq(tenant.id.get()))
        .exec(app.db())
        .await
        .unwrap();
    assert_eq!(updated.rows_affected, 1);
}

/// Sends one probe, checks its status and returns the time until the whole body arrived, in
/// milliseconds.
async fn send(client: &reqwest::Client, app: &TestApp, tenant: &TestTenant, probe: Probe) -> f64 {
    let url = app.tenant_url(&tenant.slug, "/login");
    let request = match probe {
        Probe::UnknownUser => client
            .post(&url)
            .form(&[("username", UNKNOWN_USERNAME), ("password", WRONG_PASSWORD)]),
        Probe::WrongPassword => client.post(&url).form(&[
            ("username", tenant.admin_username.as_str()),
            ("password", WRONG_PASSWORD),
        ]),
        Probe::FormOnly => client.get(&url),
    };
    let started = Instant::now();
    let response = request.send().await.unwrap();
    let status = response.status();
    let body = response.bytes().await.unwrap();
    let elapsed = started.elapsed();

    let expected = match probe {
        Probe::UnknownUser | Probe::WrongPassword => StatusCode::UNAUTHORIZED,
        Probe::FormOnly => StatusCode::OK,
    };
    assert_eq!(
        status,
        expected,
        "{probe:?}: {}",
        String::from_utf8_lossy(&body)
    );
    milliseconds(elapsed)
}

fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    }
}

/// Returns the difference of the medians of `a` and `b` and its percentile bootstrap interval
/// at [`CONFIDENCE`].
fn median_difference(a: &[f64], b: &[f64], random: &mut SplitMix64) -> (f64, f64, f64) {
    let mut differences: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| median(&resample(a, random)) - median(&resample(b, random)))
        .collect();
    differences.sort_by(f64::total_cmp);
    let tail = (1.0 - CONFIDENCE) / 2.0;
    let last = differences.len() - 1;
    // Rounding the tail positions outward keeps the interval at least as wide as asked.
    let low = differences[(tail * last as f64).floor() as usize];
    let high = differences[((1.0 - tail) * last as f64).ceil() as usize];
    (median(a) - median(b), low, high)
}

/// Draws `samples.len()` values from `samples` with replacement.
fn resample(samples: &[f64], random: &mut SplitMix64) -> Vec<f64> {
    (0..samples.len())
        .map(|_| samples[random.below(samples.len())])
        .collect()
}

/// SplitMix64 (Steele, Lea and Flood, 2014): a small seeded generator, so the bootstrap draws
/// the same resamples on every run.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Returns a number below `bound`. The modulo bias is below 2^-50 for the sample counts
    /// used here.
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}
