//! A TCP echo server: one task per connection, everything on one thread.
//!
//! ```text
//! cargo run --release -p mini-eventloop --example echo -- 127.0.0.1:7878
//! ```
//!
//! Without an address it binds 127.0.0.1 on an ephemeral port, echoes one message through
//! itself to show it works, and exits; with one it serves until killed (try `nc 127.0.0.1
//! 7878`).

use std::net::SocketAddr;

use mini_eventloop::net::{TcpListener, TcpStream};
use mini_eventloop::{Runtime, spawn};

/// Echoes everything `stream` sends until it closes its side.
async fn echo(mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

/// Accepts connections forever, one echo task each.
async fn serve(listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        spawn(async move {
            if let Err(e) = echo(stream).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

fn main() -> std::io::Result<()> {
    let addr: Option<SocketAddr> = std::env::args().nth(1).map(|a| a.parse().expect("address"));
    let rt = Runtime::new()?;
    rt.block_on(async {
        let listener = TcpListener::bind(addr.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap()))?;
        let local = listener.local_addr()?;
        println!("echo server on {local}");
        if addr.is_some() {
            return serve(listener).await;
        }
        spawn(serve(listener));
        let mut client = TcpStream::connect(local).await?;
        client.write_all(b"hello, loop").await?;
        let mut back = [0; 11];
        client.read_exact(&mut back).await?;
        println!("echoed: {}", String::from_utf8_lossy(&back));
        Ok(())
    })
}
