//! An HTTP/1.1 keep-alive "hello world" server on one thread, for load generators such as
//! `wrk`.
//!
//! ```text
//! cargo run --release -p mini-eventloop --example http_hello -- 127.0.0.1:8080
//! wrk -t2 -c100 -d10s http://127.0.0.1:8080/
//! ```
//!
//! Without an address it binds 127.0.0.1 on an ephemeral port, sends itself two requests on
//! one keep-alive connection, prints the answers and exits.

use std::net::SocketAddr;

use mini_eventloop::net::{TcpListener, TcpStream};
use mini_eventloop::{Runtime, spawn};

/// The one response, `Content-Length` and all.
const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";
/// Largest request head accepted; bigger ones close the connection.
const MAX_HEAD: usize = 8 * 1024;

/// Serves requests on one connection until the client closes it: every complete request
/// head (ending in a blank line) gets [`RESPONSE`]; pipelined requests are answered in one
/// write.
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
            return Ok(()); // head too large
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
    }
}

/// The length of the first request head in `buf` (through "\r\n\r\n"), if complete.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Accepts connections forever.
async fn serve(listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        spawn(async move {
            let _ = serve_connection(stream).await;
        });
    }
}

fn main() -> std::io::Result<()> {
    let addr: Option<SocketAddr> = std::env::args().nth(1).map(|a| a.parse().expect("address"));
    let rt = Runtime::new()?;
    rt.block_on(async {
        let listener = TcpListener::bind(addr.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap()))?;
        let local = listener.local_addr()?;
        println!("http_hello on http://{local}/");
        if addr.is_some() {
            return serve(listener).await;
        }
        spawn(serve(listener));
        let mut client = TcpStream::connect(local).await?;
        let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        for _ in 0..2 {
            client.write_all(request).await?;
            let mut answer = vec![0; RESPONSE.len()];
            client.read_exact(&mut answer).await?;
            println!(
                "{}",
                String::from_utf8_lossy(&answer).replace("\r\n", " | ")
            );
        }
        Ok(())
    })
}
