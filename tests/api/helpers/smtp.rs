//! A mail server for the tests: speaks just enough SMTP for lettre, keeps every message, and can
//! refuse the first few with a temporary error.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Clone)]
pub struct SmtpMock {
    port: u16,
    messages: Arc<Mutex<Vec<String>>>,
    refuse: Arc<AtomicUsize>,
}

impl SmtpMock {
    /// A server that answers `451` to the first `refuse` messages, then accepts.
    pub async fn start(refuse: usize) -> SmtpMock {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let mock = SmtpMock {
            port: listener.local_addr().expect("address").port(),
            messages: Arc::default(),
            refuse: Arc::new(AtomicUsize::new(refuse)),
        };
        let server = mock.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(server.clone().session(stream));
            }
        });
        mock
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }

    async fn session(self, stream: tokio::net::TcpStream) {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let _ = write.write_all(b"220 mock ESMTP\r\n").await;
        while let Ok(Some(line)) = lines.next_line().await {
            let verb = line
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            let answer: &[u8] = match verb.as_str() {
                "EHLO" | "HELO" => b"250 mock\r\n",
                "DATA" => {
                    let _ = write.write_all(b"354 go ahead\r\n").await;
                    let mut message = String::new();
                    while let Ok(Some(l)) = lines.next_line().await {
                        if l == "." {
                            break;
                        }
                        message.push_str(&l);
                        message.push('\n');
                    }
                    let refused = self
                        .refuse
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if refused {
                        b"451 try again later\r\n"
                    } else {
                        self.messages.lock().unwrap().push(message);
                        b"250 queued\r\n"
                    }
                }
                "QUIT" => {
                    let _ = write.write_all(b"221 bye\r\n").await;
                    return;
                }
                _ => b"250 OK\r\n",
            };
            if write.write_all(answer).await.is_err() {
                return;
            }
        }
    }
}
