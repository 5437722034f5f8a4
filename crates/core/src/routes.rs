//! The HTTP route table: every route the server serves, declared once as a method, a path pattern
//! and a handler. The server builds its app from the table alone, and the same table can be
//! listed (`alga-server routes`), so what is served and what is declared cannot drift apart.

use std::fmt;
use std::sync::Arc;

use actix_web::http::Method;
use actix_web::{FromRequest, Handler, Responder, web};

/// Makes the actix route of one entry (actix routes are built per worker, and are not `Clone`).
type MakeRoute = Arc<dyn Fn() -> actix_web::Route + Send + Sync>;

/// One declared route: a method (or every method) on an actix path pattern.
#[derive(Clone)]
pub struct RouteEntry {
    method: Option<Method>,
    path: String,
    make: MakeRoute,
}

impl RouteEntry {
    /// The method it answers, or `None` for every method.
    pub fn method(&self) -> Option<&Method> {
        self.method.as_ref()
    }

    /// The actix path pattern, e.g. `/api/v1/tickets/{id}`.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for RouteEntry {
    /// `GET /healthz`; `* /api/mcp` for a route answering every method.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.method {
            Some(method) => write!(f, "{method} {}", self.path),
            None => write!(f, "* {}", self.path),
        }
    }
}

impl fmt::Debug for RouteEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `RouteTable::get(path, handler)` and the like: [`RouteTable::route`] with that method.
macro_rules! method_shortcuts {
    ($($name:ident => $method:ident),*) => {$(
        pub fn $name<F, Args>(&mut self, path: impl Into<String>, handler: F) -> &mut Self
        where
            F: Handler<Args> + Send + Sync,
            Args: FromRequest + 'static,
            F::Output: Responder + 'static,
        {
            self.route(Method::$method, path, handler)
        }
    )*};
}

/// Every route of the app, in the order actix tries them.
#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    entries: Vec<RouteEntry>,
}

impl RouteTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares `handler` for `method` on `path`.
    pub fn route<F, Args>(&mut self, method: Method, path: impl Into<String>, handler: F) -> &mut Self
    where
        F: Handler<Args> + Send + Sync,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let guard = method.clone();
        let make: MakeRoute = Arc::new(move || web::method(guard.clone()).to(handler.clone()));
        self.entries.push(RouteEntry { method: Some(method), path: path.into(), make });
        self
    }

    /// Declares `handler` for every method on `path`.
    pub fn any<F, Args>(&mut self, path: impl Into<String>, handler: F) -> &mut Self
    where
        F: Handler<Args> + Send + Sync,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let make: MakeRoute = Arc::new(move || web::route().to(handler.clone()));
        self.entries.push(RouteEntry { method: None, path: path.into(), make });
        self
    }

    method_shortcuts!(get => GET, post => POST, patch => PATCH, delete => DELETE);

    /// Appends another table's routes after this one's.
    pub fn extend(&mut self, other: RouteTable) -> &mut Self {
        self.entries.extend(other.entries);
        self
    }

    pub fn entries(&self) -> &[RouteEntry] {
        &self.entries
    }

    /// Registers the table: one actix resource per path, in the order its path was first
    /// declared, holding every route declared on it. A method a path does not declare gets the
    /// resource's 405, never a route of a later resource.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        let mut paths: Vec<&str> = Vec::new();
        for entry in &self.entries {
            if !paths.contains(&entry.path.as_str()) {
                paths.push(&entry.path);
            }
        }
        for path in paths {
            let mut resource = web::resource(path);
            for entry in self.entries.iter().filter(|e| e.path == path) {
                resource = resource.route((entry.make)());
            }
            cfg.service(resource);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use actix_web::{App, HttpResponse, test};

    async fn named(req: actix_web::HttpRequest) -> HttpResponse {
        HttpResponse::Ok().body(format!("{} {}", req.method(), req.match_pattern().unwrap_or_default()))
    }

    #[actix_web::test]
    async fn the_app_serves_exactly_the_table() {
        let mut table = RouteTable::new();
        table.get("/a", named).post("/b/{id}", named).any("/c/{tail:.*}", named).delete("/a", named);
        let listed: Vec<String> = table.entries().iter().map(ToString::to_string).collect();
        assert_eq!(listed, ["GET /a", "POST /b/{id}", "* /c/{tail:.*}", "DELETE /a"]);
        let app = test::init_service(App::new().configure(|cfg| table.configure(cfg))).await;
        for (method, path, status, body) in [
            (Method::GET, "/a", 200, "GET /a"),
            (Method::DELETE, "/a", 200, "DELETE /a"),
            (Method::PUT, "/a", 405, ""),
            (Method::POST, "/b/7", 200, "POST /b/{id}"),
            (Method::GET, "/b/7", 405, ""),
            (Method::PATCH, "/c/x/y", 200, "PATCH /c/{tail:.*}"),
            (Method::GET, "/d", 404, ""),
        ] {
            let res =
                test::call_service(&app, test::TestRequest::default().method(method).uri(path).to_request()).await;
            assert_eq!(res.status().as_u16(), status, "{path}");
            let text = test::read_body(res).await;
            assert_eq!(std::str::from_utf8(&text).unwrap(), body, "{path}");
        }
    }
}
