//! A real SMTP server for the tests: it speaks enough SMTP for lettre (EHLO, MAIL, RCPT, DATA,
//! RSET, NOOP, QUIT), keeps every message it receives, and can be stopped and started again on
//! the same port to play a mail server that is away for a while.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A message as received: the envelope recipients and the raw DATA.
#[derive(Debug, Clone)]
pub struct Received {
    pub to: Vec<String>,
    pub data: String,
}

impl Received {
    /// The data with quoted-printable soft breaks and `=3D` undone (enough to read a link).
    pub fn text(&self) -> String {
        self.data.replace("=\r\n", "").replace("=3D", "=")
    }

    /// The token of the first link to `{WEB_URL}{path}?token=...`.
    pub fn link_token(&self, path: &str) -> Option<String> {
        let text = self.text();
        let at = text.find(&format!("{path}?token="))? + path.len() + "?token=".len();
        let token: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        (!token.is_empty()).then_some(token)
    }
}

pub struct MailSink {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    task: Option<JoinHandle<()>>,
}

impl MailSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind sink");
        let addr = listener.local_addr().expect("addr");
        let received = Arc::new(Mutex::new(Vec::new()));
        let task = Some(serve(listener, received.clone()));
        Self {
            addr,
            received,
            task,
        }
    }

    /// A free port where nothing listens yet (`start_at` opens it later).
    pub async fn reserve() -> Self {
        let addr = TcpListener::bind("127.0.0.1:0")
            .await
            .and_then(|l| l.local_addr())
            .expect("free port");
        Self {
            addr,
            received: Arc::default(),
            task: None,
        }
    }

    /// Starts listening (again) on this sink's port.
    pub async fn open(&mut self) {
        let listener = TcpListener::bind(self.addr).await.expect("rebind sink");
        self.task = Some(serve(listener, self.received.clone()));
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("sink").clone()
    }

    pub fn to(&self, address: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address)))
            .collect()
    }

    /// Waits up to `within` for a message to `address`.
    pub async fn wait_for(&self, address: &str, within: Duration) -> Option<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(m) = self.to(address).into_iter().next() {
                return Some(m);
            }
            if tokio::time::Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for MailSink {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn serve(listener: TcpListener, received: Arc<Mutex<Vec<Received>>>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            connections.spawn(session(stream, received.clone()));
        }
    })
}

async fn session(stream: TcpStream, received: Arc<Mutex<Vec<Received>>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut to = Vec::new();
    if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") || command.starts_with("HELO") {
            b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if command.starts_with("MAIL FROM") {
            to.clear();
            b"250 OK\r\n"
        } else if command.starts_with("RCPT TO") {
            let address = line.trim_end()[8..]
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned();
            to.push(address);
            b"250 OK\r\n"
        } else if command == "DATA" {
            if write.write_all(b"354 go ahead\r\n").await.is_err() {
                return;
            }
            let mut data = String::new();
            loop {
                line.clear();
                match lines.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            received.lock().expect("sink").push(Received {
                to: std::mem::take(&mut to),
                data,
            });
            b"250 OK queued\r\n"
        } else if command == "QUIT" {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"250 OK\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}
