//! Model-based test of the refresh protocol: random interleavings of sign-in, refreshes (one at a
//! time and several in parallel, of live and retired tokens), sign-out and clock advances past the
//! grace window, run against the real service and compared with a small model after every step.
//!
//! Checked after every step: the database holds exactly what the model says (which tokens are
//! live, retired within the window or retired before it, which sessions ended and why), and
//!   1. a session has at most one live refresh token,
//!   2. a retired token presented after the window revokes its session,
//!   3. a revoked session never yields a token (no refresh succeeds; its access tokens stop).
//!
//! Parallel refreshes really run at once, so their order is the service's choice: the step passes
//! when some serial order of them explains both the answers and the database afterwards (the
//! session row lock makes the service serialise them; a lost update or a fork has no such order).
//!
//! A failure prints its seed: `REFRESH_MODEL_SEED=<n>` replays it, `REFRESH_MODEL_CASES=<n>` runs
//! more cases than the default.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngSeed, TestCaseError, TestRunner};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::*;
use crate::sessions::refresh_token;

/// The service's grace window in this test. Advancing the clock moves the case's retirement times
/// back past it in the database instead of sleeping: the service compares `retired_at` with the
/// database's clock, so that is time passing as far as the protocol can tell, and a case stays
/// within seconds. The price is that everything between two advances must happen within the
/// window in real time, hence the widest window the configuration allows (checked, see
/// [`Case::observe`]).
const GRACE_SECS: u64 = 120;
const DEFAULT_CASES: u32 = 12;

// ---- what a case does ---------------------------------------------------------------------------

/// One step. Sessions and tokens are named by position and resolved against what the case has
/// issued so far (modulo its length), so every sequence can run and shrinking keeps it valid.
#[derive(Clone, Debug)]
enum Op {
    SignIn,
    Refresh(Pick),
    /// Refreshes sent at once, often of one token (two tabs, or a thief racing the owner).
    Parallel(Vec<Pick>),
    SignOut(Pick),
    /// Every retirement so far falls outside the grace window.
    AdvanceClock,
}

#[derive(Clone, Copy, Debug)]
struct Pick {
    session: usize,
    token: Which,
}

#[derive(Clone, Copy, Debug)]
enum Which {
    /// The session's most recently issued token (the live one, unless the session has ended).
    Newest,
    /// The n-th token issued in the session: mostly retired ones.
    Nth(usize),
}

fn pick() -> impl Strategy<Value = Pick> {
    let token = prop_oneof![3 => Just(Which::Newest), 2 => (0..8usize).prop_map(Which::Nth)];
    (0..4usize, token).prop_map(|(session, token)| Pick { session, token })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::SignIn),
        6 => pick().prop_map(Op::Refresh),
        2 => (pick(), 2..=5usize).prop_map(|(p, n)| Op::Parallel(vec![p; n])),
        2 => prop::collection::vec(pick(), 2..=5).prop_map(Op::Parallel),
        1 => pick().prop_map(Op::SignOut),
        2 => Just(Op::AdvanceClock),
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..=24)
}

// ---- the model ----------------------------------------------------------------------------------

type TokenId = usize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenState {
    Live,
    Retired { in_grace: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SessionState {
    Live,
    SignedOut,
    ReuseDetected,
}

/// What the protocol says the database holds for the case's sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Model {
    sessions: Vec<SessionState>,
    /// Every token issued, with its session.
    tokens: BTreeMap<TokenId, (usize, TokenState)>,
}

impl Model {
    fn sign_in(&mut self, token: TokenId) {
        self.sessions.push(SessionState::Live);
        self.tokens
            .insert(token, (self.sessions.len() - 1, TokenState::Live));
    }

    /// Presents `token`. When accepted, every live token of its session is retired and the
    /// session is returned (the caller adds the successor as its one live token).
    fn refresh(&mut self, token: TokenId) -> Option<usize> {
        let (session, state) = self.tokens[&token];
        if self.sessions[session] != SessionState::Live {
            return None;
        }
        if state == (TokenState::Retired { in_grace: false }) {
            self.sessions[session] = SessionState::ReuseDetected;
            return None;
        }
        for (s, t) in self.tokens.values_mut() {
            if *s == session && *t == TokenState::Live {
                *t = TokenState::Retired { in_grace: true };
            }
        }
        Some(session)
    }

    /// Applies a refresh the service answered with `seen`; false when the model would not have.
    fn explain(&mut self, token: TokenId, seen: Seen) -> bool {
        match (self.refresh(token), seen) {
            (Some(session), Seen::Rotated(successor)) => {
                self.tokens.insert(successor, (session, TokenState::Live));
                true
            }
            (None, Seen::Refused) => true,
            _ => false,
        }
    }

    fn sign_out(&mut self, token: TokenId) {
        let session = self.tokens[&token].0;
        if self.sessions[session] == SessionState::Live {
            self.sessions[session] = SessionState::SignedOut;
        }
    }

    fn advance_clock(&mut self) {
        for (_, t) in self.tokens.values_mut() {
            if let TokenState::Retired { in_grace } = t {
                *in_grace = false;
            }
        }
    }

    fn live_tokens(&self, session: usize) -> usize {
        self.tokens
            .values()
            .filter(|(s, t)| *s == session && *t == TokenState::Live)
            .count()
    }
}

/// How the service answered one refresh.
#[derive(Clone, Copy, Debug)]
enum Seen {
    Rotated(TokenId),
    Refused,
}

/// Every order of `0..n` (n is at most 5 here: 120 orders).
fn orders(n: usize) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new()];
    for i in 0..n {
        out = out
            .into_iter()
            .flat_map(|p: Vec<usize>| {
                (0..=p.len()).map(move |at| {
                    let mut q = p.clone();
                    q.insert(at, i);
                    q
                })
            })
            .collect();
    }
    out
}

// ---- one case against the service --------------------------------------------------------------

struct Case<'a> {
    app: &'a TestApp,
    email: &'a str,
    model: Model,
    session_ids: Vec<Uuid>,
    /// Per session, its tokens in the order they were handed out.
    issued: Vec<Vec<TokenId>>,
    /// Per session, the last access token handed out.
    access: Vec<String>,
    tokens: Vec<String>,
    by_hash: HashMap<Vec<u8>, TokenId>,
    /// When the model's "within the window" began (the last clock advance).
    window_opened: Instant,
}

fn hash(token: &str) -> Vec<u8> {
    auth_service::refresh_token::hash(token).to_vec()
}

fn sid_of(body: &Value) -> Result<(Uuid, String), String> {
    let access = body["access_token"]
        .as_str()
        .ok_or("no access_token")?
        .to_owned();
    let sid = claims_of(&access)["sid"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or("access token without a sid")?;
    Ok((sid, access))
}

async fn refused(res: Response, what: &str) -> Result<(), String> {
    let body: Value = res.json().await.map_err(|e| format!("{what}: {e}"))?;
    if body["code"] != "invalid_token" {
        return Err(format!("{what}: 401 with {body}"));
    }
    Ok(())
}

impl Case<'_> {
    fn register(&mut self, token: String) -> Result<TokenId, String> {
        let id = self.tokens.len();
        if self.by_hash.insert(hash(&token), id).is_some() {
            return Err("one refresh token was handed out twice".into());
        }
        self.tokens.push(token);
        Ok(id)
    }

    fn resolve(&self, pick: Pick) -> TokenId {
        let issued = &self.issued[pick.session % self.issued.len()];
        match pick.token {
            Which::Newest => issued[issued.len() - 1],
            Which::Nth(n) => issued[n % issued.len()],
        }
    }

    async fn run(&mut self, ops: &[Op]) -> Result<(), String> {
        self.step(&Op::SignIn)
            .await
            .map_err(|e| format!("the first sign-in: {e}"))?;
        for (i, op) in ops.iter().enumerate() {
            self.step(op)
                .await
                .map_err(|e| format!("step {i} ({op:?}): {e}"))?;
        }
        // Invariant 3 for access tokens: an ended session's are refused, a live one's accepted.
        for (session, access) in self.access.iter().enumerate() {
            let status = self.app.me(access).await.status();
            let live = self.model.sessions[session] == SessionState::Live;
            if (status == StatusCode::OK) != live {
                return Err(format!(
                    "/me with session {session}'s access token: {status}, but the session is {:?}",
                    self.model.sessions[session]
                ));
            }
        }
        Ok(())
    }

    async fn step(&mut self, op: &Op) -> Result<(), String> {
        let before = self.model.clone();
        let mut batch = Vec::new();
        let candidates = match op {
            Op::SignIn => {
                let res = self.app.signin(self.email, PASSWORD).await;
                if res.status() != StatusCode::OK {
                    return Err(format!("sign-in answered {}", res.status()));
                }
                let body: Value = res.json().await.map_err(|e| e.to_string())?;
                let (sid, access) = sid_of(&body)?;
                let token = self.register(refresh_token(&body))?;
                self.session_ids.push(sid);
                self.issued.push(vec![token]);
                self.access.push(access);
                let mut m = before.clone();
                m.sign_in(token);
                vec![m]
            }
            Op::Refresh(pick) => {
                batch = vec![self.resolve(*pick)];
                self.refreshes(&batch).await?
            }
            Op::Parallel(picks) => {
                batch = picks.iter().map(|p| self.resolve(*p)).collect();
                self.refreshes(&batch).await?
            }
            Op::SignOut(pick) => {
                let token = self.resolve(*pick);
                let res = self.app.signout(&self.tokens[token]).await;
                if res.status() != StatusCode::NO_CONTENT {
                    return Err(format!("sign-out answered {}", res.status()));
                }
                let mut m = before.clone();
                m.sign_out(token);
                vec![m]
            }
            Op::AdvanceClock => {
                // Past the window by a margin, so "within" and "after" are never a close call.
                sqlx::query(
                    "UPDATE auth.refresh_tokens
                        SET retired_at = retired_at - make_interval(secs => $2)
                      WHERE session_id = ANY($1) AND retired_at IS NOT NULL",
                )
                .bind(&self.session_ids)
                .bind((GRACE_SECS + 60) as f64)
                .execute(&self.app.state.pool)
                .await
                .map_err(|e| e.to_string())?;
                self.window_opened = Instant::now();
                let mut m = before.clone();
                m.advance_clock();
                vec![m]
            }
        };

        let observed = self.observe().await?;
        if !candidates.contains(&observed) {
            return Err(format!(
                "the database matches no serial order of the step.\n\
                 before: {before:?}\nexplained by the answers: {candidates:?}\n\
                 database: {observed:?}"
            ));
        }
        // Invariant 2: a token retired before the window, shown while its session was live,
        // leaves the session revoked for reuse, whatever the order of a parallel batch.
        for &token in &batch {
            let (session, state) = before.tokens[&token];
            if before.sessions[session] == SessionState::Live
                && state == (TokenState::Retired { in_grace: false })
                && observed.sessions[session] != SessionState::ReuseDetected
            {
                return Err(format!(
                    "a retired token was shown after the window, yet session {session} is {:?}",
                    observed.sessions[session]
                ));
            }
        }
        self.model = observed;
        self.check_one_live_token().await
    }

    /// Sends the refreshes at once and returns every state some serial order of them explains.
    async fn refreshes(&mut self, batch: &[TokenId]) -> Result<Vec<Model>, String> {
        let responses = futures::future::join_all(
            batch
                .iter()
                .map(|&token| self.app.refresh(&self.tokens[token])),
        )
        .await;
        let mut seen = Vec::new();
        for (&token, res) in batch.iter().zip(responses) {
            let session = self.model.tokens[&token].0;
            match res.status() {
                StatusCode::OK => {
                    // Invariant 3: an ended session yields nothing.
                    if self.model.sessions[session] != SessionState::Live {
                        return Err(format!(
                            "session {session} is {:?}, yet a refresh of it succeeded",
                            self.model.sessions[session]
                        ));
                    }
                    let body: Value = res.json().await.map_err(|e| e.to_string())?;
                    let (sid, access) = sid_of(&body)?;
                    if sid != self.session_ids[session] {
                        return Err(format!("a refresh in session {session} answered for {sid}"));
                    }
                    let successor = self.register(refresh_token(&body))?;
                    self.issued[session].push(successor);
                    self.access[session] = access;
                    seen.push(Seen::Rotated(successor));
                }
                StatusCode::UNAUTHORIZED => {
                    refused(res, "refresh").await?;
                    seen.push(Seen::Refused);
                }
                other => return Err(format!("refresh answered {other}")),
            }
        }
        let mut candidates = Vec::new();
        for order in orders(batch.len()) {
            let mut m = self.model.clone();
            if order.iter().all(|&i| m.explain(batch[i], seen[i])) && !candidates.contains(&m) {
                candidates.push(m);
            }
        }
        if candidates.is_empty() {
            return Err(format!(
                "no serial order explains the answers {seen:?} to {batch:?} from {:?}",
                self.model
            ));
        }
        Ok(candidates)
    }

    /// Reads the case's sessions and tokens back from the database, in the model's terms.
    async fn observe(&self) -> Result<Model, String> {
        if self.window_opened.elapsed() > Duration::from_secs(GRACE_SECS - 30) {
            return Err("the case ran too slowly for its simulated clock".into());
        }
        let sessions: Vec<(Uuid, bool, Option<String>)> = sqlx::query_as(
            "SELECT id, revoked_at IS NULL, revoked_reason FROM auth.sessions WHERE id = ANY($1)",
        )
        .bind(&self.session_ids)
        .fetch_all(&self.app.state.pool)
        .await
        .map_err(|e| e.to_string())?;
        let tokens: Vec<(Vec<u8>, Uuid, bool, bool)> = sqlx::query_as(
            "SELECT token_hash, session_id, retired_at IS NULL,
                    coalesce(retired_at > now() - make_interval(secs => $2), false)
               FROM auth.refresh_tokens WHERE session_id = ANY($1)",
        )
        .bind(&self.session_ids)
        .bind(GRACE_SECS as f64)
        .fetch_all(&self.app.state.pool)
        .await
        .map_err(|e| e.to_string())?;

        let index = |id: Uuid| {
            self.session_ids
                .iter()
                .position(|s| *s == id)
                .ok_or(format!("unknown session {id}"))
        };
        let mut model = Model {
            sessions: vec![SessionState::Live; self.session_ids.len()],
            tokens: BTreeMap::new(),
        };
        if sessions.len() != self.session_ids.len() {
            return Err(format!(
                "{} of the case's sessions are stored",
                sessions.len()
            ));
        }
        for (id, not_revoked, reason) in sessions {
            model.sessions[index(id)?] = match (not_revoked, reason.as_deref()) {
                (true, None) => SessionState::Live,
                (false, Some("signout")) => SessionState::SignedOut,
                (false, Some("reuse_detected")) => SessionState::ReuseDetected,
                other => return Err(format!("session {id} stored as {other:?}")),
            };
        }
        for (token_hash, session, live, in_grace) in tokens {
            let token = *self
                .by_hash
                .get(&token_hash)
                .ok_or("the database holds a refresh token no answer carried")?;
            let state = if live {
                TokenState::Live
            } else {
                TokenState::Retired { in_grace }
            };
            model.tokens.insert(token, (index(session)?, state));
        }
        Ok(model)
    }

    /// Invariant 1, in the model and in the database (on its own terms, whatever the model says).
    async fn check_one_live_token(&self) -> Result<(), String> {
        for session in 0..self.model.sessions.len() {
            if self.model.live_tokens(session) > 1 {
                return Err(format!("session {session} has more than one live token"));
            }
        }
        let (forked,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM (
                 SELECT session_id FROM auth.refresh_tokens
                  WHERE session_id = ANY($1) AND retired_at IS NULL
                  GROUP BY session_id HAVING count(*) > 1
             ) forked",
        )
        .bind(&self.session_ids)
        .fetch_one(&self.app.state.pool)
        .await
        .map_err(|e| e.to_string())?;
        if forked > 0 {
            return Err(format!("{forked} sessions hold more than one live token"));
        }
        Ok(())
    }
}

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {value:?}")),
    )
}

#[test]
fn the_refresh_protocol_follows_its_model() {
    let seed = env_number("REFRESH_MODEL_SEED").unwrap_or_else(|| Uuid::new_v4().as_u64_pair().0);
    let cases = env_number("REFRESH_MODEL_CASES").unwrap_or(DEFAULT_CASES);
    // A runtime of our own, as `#[tokio::test]` would make: proptest drives the cases
    // synchronously and each case runs on it. One thread still has many requests in flight, and
    // Postgres runs their transactions in parallel, which is where a race would be.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // One service and one user for all cases; each case signs in sessions of its own and looks
    // only at those, so cases (and shrinking's reruns) do not see each other.
    let (app, email) = rt.block_on(async {
        let app = spawn_with(|c| c.refresh_reuse_grace = GRACE_SECS).await;
        let (email, _) = app.new_user().await;
        (app, email)
    });
    let config = ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        // The seed replays a failure; no regression files written into the source tree.
        failure_persistence: None,
        max_shrink_iters: 200,
        max_shrink_time: 60_000,
        ..ProptestConfig::default()
    };
    let result = TestRunner::new(config).run(&ops(), |ops| {
        let mut case = Case {
            app: &app,
            email: &email,
            model: Model::default(),
            session_ids: Vec::new(),
            issued: Vec::new(),
            access: Vec::new(),
            tokens: Vec::new(),
            by_hash: HashMap::new(),
            window_opened: Instant::now(),
        };
        rt.block_on(case.run(&ops)).map_err(TestCaseError::fail)
    });
    rt.block_on(async move { drop(app) });
    if let Err(e) = result {
        panic!("refresh protocol model, REFRESH_MODEL_SEED={seed}: {e}");
    }
}
