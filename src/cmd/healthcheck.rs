//! `mentorsite healthcheck`: GET the endpoint's `/healthz` and exit 0 only on 200, within
//! three seconds. Container images have no curl; this is the binary they already hold.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::HealthcheckArgs;

const WAIT: Duration = Duration::from_secs(3);

pub fn run(args: &HealthcheckArgs) -> ExitCode {
    match check(&args.url) {
        Ok(()) => {
            if !super::quiet() {
                println!("ok: {} answered 200", args.url);
            }
            ExitCode::from(super::OK)
        }
        Err(why) => {
            eprintln!("unhealthy: {why}");
            ExitCode::from(super::CONTENT_ERRORS)
        }
    }
}

fn check(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// addresses (the endpoint behind its proxy)"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/healthz"),
    };
    let addr = authority
        .to_socket_addrs()
        .map_err(|e| format!("{authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{authority}: no address"))?;
    let mut stream =
        TcpStream::connect_timeout(&addr, WAIT).map_err(|e| format!("{authority}: {e}"))?;
    let _ = stream.set_read_timeout(Some(WAIT));
    let _ = stream.set_write_timeout(Some(WAIT));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("{authority}: {e}"))?;
    let mut head = [0u8; 12];
    stream
        .read_exact(&mut head)
        .map_err(|e| format!("{authority}: no answer ({e})"))?;
    let status = String::from_utf8_lossy(&head[9..12]).to_string();
    if status == "200" {
        Ok(())
    } else {
        Err(format!("{url} answered {status}"))
    }
}
