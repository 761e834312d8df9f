//! A small SMTP server on 127.0.0.1 speaking the protocol lettre speaks, keeping every message
//! it accepts; it can refuse one recipient with a 5xx until told otherwise, and hold its answer
//! to a message's end for a while (so a test can act between a send and its being recorded).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A minimal SMTP server that keeps every message it accepts. While `reject` is set, RCPT TO
/// the address in `reject_to` is answered `550 5.1.1 no such user`.
pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    pub reject: Arc<AtomicBool>,
    /// Milliseconds to wait, after keeping a message, before answering `250` to it.
    pub hold_ms: Arc<AtomicU64>,
}

impl SmtpSink {
    pub fn start(port: u16) -> SmtpSink {
        SmtpSink::start_rejecting(port, None)
    }

    pub fn start_rejecting(port: u16, reject_to: Option<&str>) -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind SMTP port");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let reject = Arc::new(AtomicBool::new(reject_to.is_some()));
        let reject_to = reject_to.map(|a| a.to_ascii_uppercase());
        let hold_ms = Arc::new(AtomicU64::new(0));
        let (m, s, r, h) = (mails.clone(), stop.clone(), reject.clone(), hold_ms.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (m, r, h, to) = (m.clone(), r.clone(), h.clone(), reject_to.clone());
                        std::thread::spawn(move || {
                            session(stream, &m, &r, &h, to.as_deref());
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        SmtpSink {
            port,
            mails,
            stop,
            reject,
            hold_ms,
        }
    }

    pub fn mails(&self) -> Vec<String> {
        self.mails.lock().unwrap().clone()
    }

    /// Wait (bounded) until `n` mails have arrived.
    pub fn wait_for(&self, n: usize, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let mails = self.mails();
            if mails.len() >= n || Instant::now() > deadline {
                return mails;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn session(
    stream: TcpStream,
    mails: &Mutex<Vec<String>>,
    reject: &AtomicBool,
    hold_ms: &AtomicU64,
    to: Option<&str>,
) {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut out = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let _ = out.write_all(b"220 sink.test ESMTP\r\n");
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let cmd = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if cmd.starts_with("EHLO") {
            b"250-sink.test\r\n250 8BITMIME\r\n"
        } else if cmd.starts_with("RCPT")
            && reject.load(Ordering::Relaxed)
            && to.is_some_and(|to| cmd.contains(to))
        {
            b"550 5.1.1 no such user\r\n"
        } else if cmd.starts_with("DATA") {
            let _ = out.write_all(b"354 go ahead\r\n");
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if reader.read_line(&mut l).unwrap_or(0) == 0 {
                    return;
                }
                if l == ".\r\n" {
                    break;
                }
                // Transparency (RFC 5321 4.5.2): the client doubled a leading dot.
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
            }
            mails.lock().unwrap().push(data);
            std::thread::sleep(Duration::from_millis(hold_ms.load(Ordering::Relaxed)));
            b"250 queued\r\n"
        } else if cmd.starts_with("QUIT") {
            let _ = out.write_all(b"221 bye\r\n");
            return;
        } else {
            b"250 OK\r\n"
        };
        let _ = out.write_all(reply);
    }
}

/// A port free on 127.0.0.1 just now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `To:` header of a mail as the sink received it.
#[allow(dead_code)]
pub fn to_of(mail: &str) -> String {
    mail.lines()
        .find_map(|l| l.strip_prefix("To: "))
        .unwrap_or_default()
        .to_string()
}
