use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 1))
}

#[tokio::test(start_paused = true)]
async fn a_write_the_client_does_not_read_fails_after_the_write_timeout() {
    let (ours, _theirs) = tokio::io::duplex(64);
    let flags = Arc::new(ConnFlags::default());
    let mut io = TimedIo::new(ours, peer(), Some(Duration::from_secs(2)), None, flags);
    let start = Instant::now();
    let err = io.write_all(&[0u8; 1024]).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    assert_eq!(start.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn writes_that_progress_never_time_out() {
    let (ours, mut theirs) = tokio::io::duplex(64);
    let flags = Arc::new(ConnFlags::default());
    let mut io = TimedIo::new(ours, peer(), Some(Duration::from_secs(2)), None, flags);
    let reader = tokio::spawn(async move {
        let mut buf = [0u8; 16];
        loop {
            // A slow reader: each write waits 1 s at most, less than the limit.
            tokio::time::sleep(Duration::from_secs(1)).await;
            if theirs.read(&mut buf).await.unwrap_or(0) == 0 {
                break;
            }
        }
    });
    for _ in 0..16 {
        io.write_all(&[1u8; 64]).await.unwrap();
    }
    reader.abort();
}

#[tokio::test(start_paused = true)]
async fn an_upgraded_connection_silent_both_ways_fails_and_writes_keep_it_alive() {
    let (ours, mut theirs) = tokio::io::duplex(1024);
    let flags = Arc::new(ConnFlags::default());
    let limit = Duration::from_secs(3);
    let mut io = TimedIo::new(ours, peer(), None, Some(limit), flags.clone());
    let mut buf = [0u8; 8];
    // Not upgraded: HTTP waits are timed elsewhere.
    assert!(
        tokio::time::timeout(Duration::from_secs(10), io.read(&mut buf))
            .await
            .is_err()
    );
    // The answer that upgrades the connection is written.
    flags.set_upgraded();
    io.write_all(b"101").await.unwrap();
    theirs.read_exact(&mut [0u8; 3]).await.unwrap();
    // Upgraded: a probe every 2 s keeps the connection.
    let start = Instant::now();
    for _ in 0..5 {
        let r = tokio::time::timeout(Duration::from_secs(2), io.read(&mut buf)).await;
        assert!(r.is_err(), "closed while writes went on");
        io.write_all(b"PROBE\r\n").await.unwrap();
        let mut probe = [0u8; 7];
        theirs.read_exact(&mut probe).await.unwrap();
    }
    // Then silence both ways: closed after the limit.
    let silent = Instant::now();
    let err = io.read(&mut buf).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    assert_eq!(silent.elapsed(), limit);
    assert!(start.elapsed() >= Duration::from_secs(10));
}
