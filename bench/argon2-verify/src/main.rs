//! Prints the median wall time of one argon2id `verify_password` at the auth-service's configured
//! parameters (default m=19456 KiB, t=2, p=1), the floor under a sign-in's latency.
//!
//! Usage: argon2-verify [iterations] [memory_kib] [t] [p]
//! Output (one line, for bin/bench): `median_ms=.. p10_ms=.. p90_ms=.. min_ms=.. n=.. m=.. t=.. p=..`

use std::time::Instant;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

fn arg(n: usize, default: u32) -> u32 {
    std::env::args()
        .nth(n)
        .map(|s| s.parse().expect("numeric argument"))
        .unwrap_or(default)
}

fn main() {
    let iterations = arg(1, 30) as usize;
    let (m, t, p) = (arg(2, 19456), arg(3, 2), arg(4, 1));
    let argon2 = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(m, t, p, None).expect("valid argon2 parameters"),
    );
    let password = b"correct horse battery staple";
    // A fixed salt keeps runs comparable; the salt does not change the cost.
    let salt = SaltString::encode_b64(b"bench-salt-16byt").expect("salt");
    let phc = argon2
        .hash_password(password, &salt)
        .expect("hash")
        .to_string();
    // The service parses the stored PHC string on every sign-in; so do we.
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations.max(1) {
        let start = Instant::now();
        let parsed = PasswordHash::new(&phc).expect("phc");
        argon2
            .verify_password(password, &parsed)
            .expect("password matches");
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let q = |f: f64| times[((times.len() - 1) as f64 * f).round() as usize];
    println!(
        "median_ms={:.2} p10_ms={:.2} p90_ms={:.2} min_ms={:.2} n={} m={m} t={t} p={p}",
        q(0.5),
        q(0.1),
        q(0.9),
        times[0],
        times.len()
    );
}
