//! The route table: every route of a tenant host is added together with the access each of its
//! methods requires, so the router and the list the access tests walk are built from the same
//! calls. `axum::Router::route` is disallowed by the workspace's clippy configuration outside
//! this module; a route added any other way fails the lint.

use axum::Router;
use axum::http::Method;
use axum::routing::MethodRouter;

use crate::rights::Right;
use crate::state::AppState;

/// Access a request needs to reach a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone: login pages, links from mails, language switch.
    Public,
    /// Any signed-in account, employee or planner (password change).
    SignedIn,
    /// A signed-in employee of the portal.
    Employee,
    /// A signed-in planner, whatever the rights of their group.
    Planner,
    /// A signed-in planner whose group grants this right.
    Right(Right),
    /// A valid app token of the API (bearer).
    AppToken,
}

/// One method on one path, and the access it requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteEntry {
    pub method: Method,
    pub path: String,
    pub access: Access,
}

/// A router being built, with the list of its routes.
#[derive(Default)]
pub struct RouteTable {
    router: Router<AppState>,
    entries: Vec<RouteEntry>,
}

impl RouteTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a path with its handlers and, for each method the handlers serve, the access it
    /// requires.
    #[allow(clippy::disallowed_methods, reason = "the one place that adds routes")]
    pub fn route(
        mut self,
        path: &str,
        methods: MethodRouter<AppState>,
        access: &[(Method, Access)],
    ) -> Self {
        self.router = self.router.route(path, methods);
        self.entries
            .extend(access.iter().map(|(method, access)| RouteEntry {
                method: method.clone(),
                path: path.to_owned(),
                access: *access,
            }));
        self
    }

    /// Adds a path that serves GET and POST with the same access.
    pub fn get_post(self, path: &str, methods: MethodRouter<AppState>, access: Access) -> Self {
        self.route(
            path,
            methods,
            &[(Method::GET, access), (Method::POST, access)],
        )
    }

    /// Adds a path that serves GET only.
    pub fn get(self, path: &str, methods: MethodRouter<AppState>, access: Access) -> Self {
        self.route(path, methods, &[(Method::GET, access)])
    }

    /// Adds a path that serves POST only.
    pub fn post(self, path: &str, methods: MethodRouter<AppState>, access: Access) -> Self {
        self.route(path, methods, &[(Method::POST, access)])
    }

    /// Adds every route of another table.
    pub fn merge(mut self, other: Self) -> Self {
        self.router = self.router.merge(other.router);
        self.entries.extend(other.entries);
        self
    }

    /// Returns the routes added so far.
    pub fn entries(&self) -> &[RouteEntry] {
        &self.entries
    }

    /// Returns the router and the list of its routes.
    pub fn into_parts(self) -> (Router<AppState>, Vec<RouteEntry>) {
        (self.router, self.entries)
    }

    /// Returns the router.
    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}
