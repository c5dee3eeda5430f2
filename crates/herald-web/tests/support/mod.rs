//! Real actix-web servers on 127.0.0.1 for herald-web's tests.
#![allow(dead_code, unreachable_pub)]

use actix_web::dev::ServerHandle;

pub use herald_testkit::within;

/// A running server: its base URL (`http://127.0.0.1:<port>`), stopped when dropped.
pub struct Server {
    pub url: String,
    handle: ServerHandle,
}

impl Drop for Server {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_rt::spawn(async move { handle.stop(false).await });
    }
}

impl Server {
    /// A running server's handle and port, as [`serve!`] starts it.
    pub fn new(handle: ServerHandle, port: u16) -> Self {
        Self {
            url: format!("http://127.0.0.1:{port}"),
            handle,
        }
    }
}

/// Serves the app `factory` makes, with one worker, on a free loopback port.
#[macro_export]
macro_rules! serve {
    ($factory:expr) => {{
        let server = actix_web::HttpServer::new($factory)
            .workers(1)
            .disable_signals()
            .bind(("127.0.0.1", 0))
            .expect("a free loopback port");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_rt::spawn(server);
        support::Server::new(handle, port)
    }};
}
