//! The `futures-io` feature: `TcpStream` and its halves work with the `futures` I/O
//! ecosystem: `futures::io::copy` between two streams, and a `BufReader` reading lines.

mod util;

use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use mini_eventloop::net::{TcpListener, TcpStream};
use mini_eventloop::{join, spawn};

/// Bytes through the copy: several socket buffers, so both sides really wait.
const COPIED: usize = 1 << 20;

/// A connected pair: (client, server side).
async fn pair(listener: &TcpListener) -> (TcpStream, TcpStream) {
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = join(TcpStream::connect(addr), listener.accept()).await;
    (client.unwrap(), accepted.unwrap().0)
}

/// `futures::io::copy` from one stream's read half into another's write half moves every
/// byte in order, and `close` (FIN) ends the copy.
#[test]
fn copy_between_streams() {
    util::run(async {
        let listener = TcpListener::bind(util::any_port()).unwrap();
        let (mut source, source_peer) = pair(&listener).await;
        let (sink_peer, mut sink) = pair(&listener).await;
        let data: Vec<u8> = (0..COPIED).map(|i| (i % 251) as u8).collect();
        let expected = data.clone();
        let writer = spawn(async move {
            source.write_all(&data).await.unwrap();
            source.close().await.unwrap();
        });
        let relay = spawn(async move {
            let (mut rd, _keep) = source_peer.into_split();
            let (_keep_rd, mut wr) = sink_peer.into_split();
            let n = futures::io::copy(&mut rd, &mut wr).await.unwrap();
            wr.close().await.unwrap();
            n
        });
        let mut got = Vec::new();
        sink.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        assert_eq!(relay.await.unwrap(), COPIED as u64);
        assert!(got == expected, "bytes differ");
    });
}

/// A `BufReader` over a borrowed read half reads lines that arrive in pieces.
#[test]
fn buf_reader_reads_lines() {
    util::run(async {
        let listener = TcpListener::bind(util::any_port()).unwrap();
        let (mut client, mut server) = pair(&listener).await;
        let writer = spawn(async move {
            for piece in [&b"first li"[..], b"ne\nsecond line\nthi", b"rd\n"] {
                client.write_all(piece).await.unwrap();
            }
        });
        // Named in full: `AsyncReadExt::split(self)` would win method resolution.
        let (rd, _wr) = TcpStream::split(&mut server);
        let mut lines = BufReader::new(rd).lines();
        let mut got = Vec::new();
        while let Some(line) = futures::StreamExt::next(&mut lines).await {
            got.push(line.unwrap());
        }
        writer.await.unwrap();
        assert_eq!(got, ["first line", "second line", "third"]);
    });
}
