//! Bounded, deterministic runs of the fuzz checks on stable Rust, so CI runs them on every
//! change.
//!
//! Each test feeds one check with inputs from a seeded ChaCha generator: random bytes, and seed
//! inputs with random mutations (bit flips, inserted, deleted, repeated and spliced bytes). The
//! same seed gives the same inputs. `MEP24WEB_FUZZ_ITERATIONS` sets the inputs per check
//! (default 4,000) and `MEP24WEB_FUZZ_SEED` the generator seed (default 24). A failing input is
//! written to `fuzz/artifacts/<target>/`, where `cargo fuzz run <target> <file>` replays it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DEFAULT_ITERATIONS: u64 = 4_000;
const DEFAULT_SEED: u64 = 24;

/// Maximum length of a random input in bytes, the `-max_len` that libFuzzer uses by default.
const MAX_RANDOM_LEN: usize = 4096;

/// Bytes that random inputs favour: CSV and form syntax, dots and colons of hosts, and the
/// starts of multi-byte UTF-8 sequences and of the byte order mark.
const INTERESTING_BYTES: &[u8] =
    b";,\t\"\r\n.:[]@%&=+-_ 0139azAZ\x00\x7f\xc3\xa4\xe2\x80\xef\xbb\xbf\xff";

#[test]
fn host_normalization_holds_properties() {
    let seeds: Vec<Vec<u8>> = [
        "demo.localhost",
        "DEMO.localhost:8080",
        "demo.localhost.",
        "www.mep24web.de",
        "baeckerei-mueller.mep24web.de:443",
        "münchen.localhost",
        "xn--mnchen-3ya.localhost",
        "ｄｅｍｏ。localhost",
        "[::1]:8080",
        "[::FFFF:7F00:1]",
        "127.0.0.1:80",
        "a.b.localhost",
        "demo..localhost",
        "-demo.localhost",
        "user@demo.localhost",
    ]
    .iter()
    .map(|seed| seed.as_bytes().to_vec())
    .collect();
    run(
        "host_normalization",
        &seeds,
        mep24web_fuzz::host_normalization::check,
    );
}

#[test]
fn csv_import_holds_properties() {
    let mut seeds: Vec<Vec<u8>> = [
        "Personalnummer;Nachname;Vorname\r\n1001;Müller;Anna\r\n",
        "Personalnummer,Nachname,Vorname,E-Mail,Eintrittsdatum,Austrittsdatum\n\
         1,Weiß,Jürgen,j@example.de,01.03.2024,28.02.2024\n1,Weiß,Jürgen,,,\n",
        "PersNr\tName\tVorname\tSprache\n7\t\"Kaya; Sohn\"\tDeniz\tfr\n\n\t\t\n",
        "Nachname;Vorname\n\"offen;x\n",
    ]
    .iter()
    .map(|seed| seed.as_bytes().to_vec())
    .collect();
    seeds.extend(fixture_files());
    run("csv_import", &seeds, mep24web_fuzz::csv_import::check);
}

#[test]
fn form_parsing_holds_properties() {
    let seeds: Vec<Vec<u8>> = [
        "username=anna.schmidt&password=Sommer-Fr%C3%BChling-2026",
        "username=a&username=b",
        "security_code=1234&username=J%C3%BCrgen&password=x&password_repeat=x",
        "must_change=ja&password=%FF%FE&password_repeat=",
        "a=1&&=&b&%zz=%",
        "10001",
        " 10 001 ",
        "baeckerei-mueller",
        "de-DE,de;q=0.9,en;q=0.8",
        "31.12.2099",
        "anna@example.de",
    ]
    .iter()
    .map(|seed| seed.as_bytes().to_vec())
    .collect();
    run("form_parsing", &seeds, mep24web_fuzz::form_parsing::check);
}

/// Returns the CSV files that the import's own tests use.
fn fixture_files() -> Vec<Vec<u8>> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/import");
    let entries = std::fs::read_dir(&folder)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", folder.display()));
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| {
            entry
                .unwrap_or_else(|error| panic!("cannot list {}: {error}", folder.display()))
                .path()
        })
        .filter(|path| path.extension().is_some_and(|ext| ext == "csv"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no CSV fixtures in {}", folder.display());
    paths
        .iter()
        .map(|path| {
            std::fs::read(path)
                .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
        })
        .collect()
}

/// Feeds `check` with the seeds and then with generated inputs, and saves the first input that
/// makes it panic.
fn run(target: &str, seeds: &[Vec<u8>], check: fn(&[u8])) {
    let iterations = env_number("MEP24WEB_FUZZ_ITERATIONS", DEFAULT_ITERATIONS);
    let seed = env_number("MEP24WEB_FUZZ_SEED", DEFAULT_SEED);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);

    for (index, input) in seeds.iter().enumerate() {
        run_one(target, check, input, &format!("seed input {index}"));
    }
    for iteration in 0..iterations {
        let input = if seeds.is_empty() || rng.gen_bool(0.4) {
            random_input(&mut rng)
        } else {
            mutate(&mut rng, seeds)
        };
        run_one(
            target,
            check,
            &input,
            &format!("iteration {iteration} of seed {seed}"),
        );
    }
}

fn run_one(target: &str, check: fn(&[u8]), input: &[u8], origin: &str) {
    if catch_unwind(AssertUnwindSafe(|| check(input))).is_ok() {
        return;
    }
    let saved = save_failure(target, input, origin);
    panic!(
        "{target} failed on {origin} ({} bytes, saved to {saved}): {:?}",
        input.len(),
        String::from_utf8_lossy(&input[..input.len().min(500)])
    );
}

/// Writes a failing input where `cargo fuzz run` finds it, and returns the path or the reason
/// it could not be written.
fn save_failure(target: &str, input: &[u8], origin: &str) -> String {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("artifacts")
        .join(target);
    let name: String = origin
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let path = folder.join(format!("stable-{name}"));
    match std::fs::create_dir_all(&folder).and_then(|()| std::fs::write(&path, input)) {
        Ok(()) => path.display().to_string(),
        Err(error) => format!("nowhere, writing {} failed: {error}", path.display()),
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a whole number")),
        Err(_) => default,
    }
}

/// Returns random bytes, mostly short, each either uniform or one of `INTERESTING_BYTES`.
fn random_input(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let length = match rng.gen_range(0..10) {
        0..=4 => rng.gen_range(0..64),
        5..=7 => rng.gen_range(64..512),
        _ => rng.gen_range(512..=MAX_RANDOM_LEN),
    };
    (0..length).map(|_| random_byte(rng)).collect()
}

fn random_byte(rng: &mut ChaCha8Rng) -> u8 {
    if rng.gen_bool(0.5) {
        rng.r#gen()
    } else {
        INTERESTING_BYTES[rng.gen_range(0..INTERESTING_BYTES.len())]
    }
}

/// Applies one to four random edits to a seed input.
fn mutate(rng: &mut ChaCha8Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut input = seeds[rng.gen_range(0..seeds.len())].clone();
    for _ in 0..rng.gen_range(1..=4) {
        let position = rng.gen_range(0..=input.len());
        match rng.gen_range(0..6) {
            0 if !input.is_empty() => {
                let index = position.min(input.len() - 1);
                input[index] ^= 1 << rng.gen_range(0..8);
            }
            1 if !input.is_empty() => {
                let index = position.min(input.len() - 1);
                input[index] = random_byte(rng);
            }
            2 => {
                let count = rng.gen_range(1..=8);
                let bytes: Vec<u8> = (0..count).map(|_| random_byte(rng)).collect();
                input.splice(position..position, bytes);
            }
            3 => {
                let end = rng.gen_range(position..=input.len().min(position + 16));
                input.drain(position..end);
            }
            4 => {
                let end = rng.gen_range(position..=input.len().min(position + 32));
                let repeated = input[position..end].to_vec();
                input.splice(position..position, repeated);
            }
            _ => {
                let other = &seeds[rng.gen_range(0..seeds.len())];
                let start = rng.gen_range(0..=other.len());
                let end = rng.gen_range(start..=other.len());
                input.splice(position..position, other[start..end].iter().copied());
            }
        }
    }
    input.truncate(MAX_RANDOM_LEN * 2);
    input
}
