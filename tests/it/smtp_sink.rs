//! A real SMTP server as the test sink: aiosmtpd (PyPI) with its Maildir handler on 127.0.0.1. The server binds
//! port 0 and prints the port it got, so no other test can take the port between choosing it and binding it.
//! Tests install nothing: aiosmtpd must be importable by `python3` (`.ci/run` installs it; the README says how).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Checks once that aiosmtpd can be imported; tests install nothing (`.ci/run` installs it, the README says how).
fn require_aiosmtpd() {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| {
        let importable = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            importable,
            "the SMTP tests need python3 with the aiosmtpd module: see the README's Set up"
        );
    });
}

/// aiosmtpd's server with the Maildir handler, as `python3 -m aiosmtpd -c aiosmtpd.handlers.Mailbox` runs it, but
/// listening on the port given (0 for any) and printing the port it listens on.
const SERVE: &str = r#"
import asyncio, sys
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP

async def main():
    handler = Mailbox(sys.argv[2])
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(handler), "127.0.0.1", int(sys.argv[1]))
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"#;

pub struct SmtpSink {
    pub port: u16,
    maildir: tempfile::TempDir,
    child: Option<Child>,
}

pub struct ReceivedEmail {
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub text: String,
    pub html: String,
    /// The message as received, headers and MIME structure included.
    pub raw: String,
}

impl ReceivedEmail {
    /// The first link to this install in the text part.
    pub fn link(&self, base: &str) -> String {
        let start = self
            .text
            .find(base)
            .unwrap_or_else(|| panic!("no link to {base} in:\n{}", self.text));
        self.text[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    }
}

impl SmtpSink {
    pub fn start() -> Self {
        let mut sink = Self {
            port: 0,
            maildir: tempfile::tempdir().unwrap(),
            child: None,
        };
        sink.resume();
        sink
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Stops the server: the port refuses connections until `resume`.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// (Re)starts the server, on the port it had before if any, and waits until it answers.
    pub fn resume(&mut self) {
        require_aiosmtpd();
        let mut child = Command::new("python3")
            .args(["-c", SERVE, &self.port.to_string()])
            .arg(self.maildir.path().join("mail"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        self.port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the SMTP sink did not report its port: {line:?}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the SMTP sink did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn messages(&self) -> Vec<ReceivedEmail> {
        let new = self.maildir.path().join("mail").join("new");
        let Ok(entries) = std::fs::read_dir(&new) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        files
            .iter()
            .map(|path| {
                let raw = std::fs::read(path).unwrap();
                let parsed = mail_parser::MessageParser::default()
                    .parse(&raw)
                    .expect("a MIME message");
                ReceivedEmail {
                    to: parsed
                        .to()
                        .and_then(|a| a.first())
                        .and_then(|a| a.address())
                        .unwrap_or_default()
                        .to_string(),
                    subject: parsed.subject().unwrap_or_default().to_string(),
                    message_id: parsed.message_id().unwrap_or_default().to_string(),
                    text: parsed
                        .body_text(0)
                        .map(|t| t.into_owned())
                        .unwrap_or_default(),
                    html: parsed
                        .body_html(0)
                        .map(|t| t.into_owned())
                        .unwrap_or_default(),
                    raw: String::from_utf8_lossy(&raw).into_owned(),
                }
            })
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}
