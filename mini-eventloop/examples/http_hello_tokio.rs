//! The same HTTP/1.1 keep-alive "hello world" handler as `http_hello.rs`, on tokio's
//! current-thread runtime: the peer for the `wrk` figure in the README.
//!
//! ```text
//! cargo run --release -p mini-eventloop --example http_hello_tokio -- 127.0.0.1:8081
//! wrk -t2 -c100 -d10s http://127.0.0.1:8081/
//! ```
//!
//! Without an address it binds 127.0.0.1 on an ephemeral port, sends itself one request,
//! prints the answer and exits.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The one response, byte for byte the one `http_hello.rs` sends.
const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";
/// Largest request head accepted; bigger ones close the connection.
const MAX_HEAD: usize = 8 * 1024;

/// The same loop as `http_hello.rs`'s `serve_connection`.
async fn serve_connection(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0; MAX_HEAD];
    let mut filled = 0;
    let mut out = Vec::new();
    loop {
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        let mut start = 0;
        while let Some(end) = find_head_end(&buf[start..filled]) {
            out.extend_from_slice(RESPONSE);
            start += end;
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
        if filled == buf.len() {
            return Ok(());
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
    }
}

/// The length of the first request head in `buf`, if complete.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Accepts connections forever.
async fn serve(listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = serve_connection(stream).await;
        });
    }
}

fn main() -> std::io::Result<()> {
    let addr: Option<SocketAddr> = std::env::args().nth(1).map(|a| a.parse().expect("address"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener =
            TcpListener::bind(addr.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap())).await?;
        let local = listener.local_addr()?;
        println!("http_hello_tokio on http://{local}/");
        if addr.is_some() {
            return serve(listener).await;
        }
        tokio::spawn(serve(listener));
        let mut client = TcpStream::connect(local).await?;
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await?;
        let mut answer = vec![0; RESPONSE.len()];
        client.read_exact(&mut answer).await?;
        println!(
            "{}",
            String::from_utf8_lossy(&answer).replace("\r\n", " | ")
        );
        Ok(())
    })
}
