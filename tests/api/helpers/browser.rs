//! A real headless Chromium, driven over WebDriver (chromedriver), for the browser tests of the
//! invite form and the admin console.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// chromedriver on a free port, and a headless Chromium session through it.
pub struct Browser {
    driver: Child,
    pub client: Client,
}

/// A test that fails half-way still ends chromedriver and the browser it started: they run
/// in a process group of their own, which is ended whole.
impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
    }
}

impl Browser {
    pub async fn start() -> Self {
        // The WebDriver client's TLS stack needs a process-wide provider; Liaison's is ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; scripts/test installs it)");
        // Ready when it says so.
        let stdout = driver.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            if line
                .expect("chromedriver output")
                .contains("started successfully")
            {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        let mut options = json!({ "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
        if std::path::Path::new("/usr/bin/chromium").exists() {
            options["binary"] = json!("/usr/bin/chromium");
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::rustls()
            .expect("tls")
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        Self { driver, client }
    }

    /// With `LIAISON_SCREENSHOTS=<folder>`, saves the page as `<name>-1280.png` and
    /// `<name>-420.png` (a desktop and a utility-bar panel or phone), for the README; without
    /// it, does nothing. The window returns to desktop width.
    pub async fn snapshot(&self, name: &str) {
        self.snapshot_at(name, None).await;
    }

    /// As `snapshot`, with the element `id` scrolled to the top at each width.
    pub async fn snapshot_at(&self, name: &str, id: Option<&str>) {
        let Some(folder) = std::env::var_os("LIAISON_SCREENSHOTS") else {
            return;
        };
        std::fs::create_dir_all(&folder).expect("the screenshot folder");
        for width in [420, 1280] {
            self.client.set_window_size(width, 1100).await.unwrap();
            if let Some(id) = id {
                let scroll = "document.getElementById(arguments[0]).scrollIntoView()";
                self.client.execute(scroll, vec![json!(id)]).await.unwrap();
            }
            let png = self.client.screenshot().await.unwrap();
            let file = std::path::Path::new(&folder).join(format!("{name}-{width}.png"));
            std::fs::write(file, png).expect("a screenshot written");
        }
    }

    /// Ends the browser session; dropping then ends chromedriver.
    pub async fn stop(self) {
        let _ = self.client.clone().close().await;
    }

    /// Waits for the page whose heading contains `text`.
    pub async fn heading(&self, text: &str) {
        let xpath = format!("//h1[contains(., '{text}')]");
        self.wait_for(Locator::XPath(&xpath), text).await;
    }

    /// Waits for an element to appear on the page.
    pub async fn wait_for(&self, locator: Locator<'_>, what: &str) {
        match self
            .client
            .wait()
            .at_most(Duration::from_secs(60))
            .for_element(locator)
            .await
        {
            Ok(_) => {}
            Err(e) => {
                let page = self.client.source().await.unwrap_or_default();
                panic!("no {what} ({e}); the page is: {page}")
            }
        }
    }

    pub async fn value(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Types into the fields `css` selectors find, each its value.
    pub async fn fill(&self, fields: &[(&str, &str)]) {
        for (css, value) in fields {
            let field = self.client.find(Locator::Css(css)).await;
            let field = field.unwrap_or_else(|e| panic!("{css}: {e}"));
            field.send_keys(value).await.unwrap();
        }
    }

    pub async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .text()
            .await
            .unwrap()
    }
}
