//! `<service> healthcheck`: probes the service's own `/readyz` with a bare HTTP/1.1 request, so
//! container images need neither a shell nor curl.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub async fn probe(bind: SocketAddr) -> ExitCode {
    let mut addr = bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(Ipv4Addr::LOCALHOST.into());
    }
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await?;
        let mut buf = [0u8; 16];
        let n = stream.read(&mut buf).await?;
        std::io::Result::Ok(buf[..n].starts_with(b"HTTP/1.1 200"))
    };
    match tokio::time::timeout(Duration::from_secs(3), attempt).await {
        Ok(Ok(true)) => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn serve_once(status_line: &'static str) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            if let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 256];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                assert!(buf[..n].starts_with(b"GET /readyz HTTP/1.1\r\n"));
                let _ = sock.write_all(status_line.as_bytes()).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn ready_service_exits_zero() {
        let addr = serve_once("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
        assert_eq!(probe(addr).await, ExitCode::SUCCESS);
    }

    #[tokio::test]
    async fn unready_or_absent_service_exits_non_zero() {
        let addr =
            serve_once("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n").await;
        assert_eq!(probe(addr).await, ExitCode::FAILURE);
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind")
            .local_addr()
            .expect("addr");
        assert_eq!(probe(closed).await, ExitCode::FAILURE);
    }
}
