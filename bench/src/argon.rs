//! The raw Argon2 baseline: verifications per second of the stored benchmark hash on plain
//! threads, one per core, without the server around them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::{Argon2, Params};
use serde::Serialize;

/// The measured rate and the parameters read from the hash.
#[derive(Clone, Debug, Serialize)]
pub struct ArgonResult {
    pub threads: usize,
    pub verifications: u64,
    pub seconds: f64,
    pub per_second: f64,
    /// Memory cost in KiB, iterations and lanes, as stored in the hash.
    pub memory_kib: u32,
    pub iterations: u32,
    pub lanes: u32,
}

/// Verifies `password` against `hash` on `threads` threads for `duration`.
///
/// Argon2 takes the algorithm and cost parameters for a verification from the PHC string, so
/// this runs with exactly the parameters the server stored in `hash`.
pub fn measure(
    hash: &str,
    password: &str,
    threads: usize,
    duration: Duration,
) -> anyhow::Result<ArgonResult> {
    let parsed = PasswordHash::new(hash).map_err(|error| anyhow::anyhow!("{error}"))?;
    let params = Params::try_from(&parsed).map_err(|error| anyhow::anyhow!("{error}"))?;
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .map_err(|error| anyhow::anyhow!("the benchmark hash does not verify: {error}"))?;

    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads.max(1))
        .map(|_| {
            let stop = stop.clone();
            let count = count.clone();
            let hash = hash.to_owned();
            let password = password.to_owned();
            std::thread::spawn(move || {
                let Ok(parsed) = PasswordHash::new(&hash) else {
                    return;
                };
                while !stop.load(Ordering::Relaxed) {
                    if Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                    {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker
            .join()
            .map_err(|_| anyhow::anyhow!("an Argon2 thread panicked"))
            .context("raw Argon2 baseline failed")?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let verifications = count.load(Ordering::Relaxed);
    Ok(ArgonResult {
        threads: threads.max(1),
        verifications,
        seconds,
        per_second: verifications as f64 / seconds,
        memory_kib: params.m_cost(),
        iterations: params.t_cost(),
        lanes: params.p_cost(),
    })
}
