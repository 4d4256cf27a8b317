//! The `kv` example's HTTP interface, on axum.
//!
//! | request | answer |
//! |---|---|
//! | `PUT /kv/<key>` (body: the value) | 200 and the new version, `<time>@<writer>` |
//! | `GET /kv/<key>` | 200 and the value (header `kv-version`), or 404 |
//! | `DELETE /kv/<key>` | 200 and the tombstone's version |
//! | `GET /kv` | 200, one line per live key: `<key> <version> <value>` |
//! | `GET /members` | 200, one line per live member: `<name> <address> <state> <incarnation>` |
//! | `GET /metrics` | 200, every metric in the Prometheus text format |
//!
//! It listens on TCP, or on a Unix socket (`--http unix:PATH`), which processes in other
//! network namespaces of the host can reach (the partition test uses that).
//!
//! Keys are bytes: percent-decoded from the path, percent-encoded in listings (as are values
//! there). A bad key answers 400, a value above the limit 413, a full store 507, a member
//! that stopped 503.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use swim_tokio::Node;
use tokio::sync::Notify;

use super::store::{Shared, Store, Update, WriteError, lock};

/// The header carrying a value's version.
pub const VERSION_HEADER: &str = "kv-version";

/// Request bodies above this are refused before they are read whole (413). Values are
/// checked against the store's own, smaller, limit.
const MAX_BODY: usize = 64 * 1024;

/// What every handler shares.
pub struct App {
    node: Node,
    store: Shared,
    now: fn() -> u64,
    metrics: PrometheusHandle,
    /// Serialises local writes with their broadcasts: an older update queued after a newer
    /// one for the same key would replace it in the broadcast queue.
    writes: tokio::sync::Mutex<()>,
}

impl App {
    /// The interface to `node`'s replica `store`, with the versions' clock `now`.
    pub fn new(node: Node, store: Shared, now: fn() -> u64, metrics: PrometheusHandle) -> Arc<App> {
        Arc::new(App { node, store, now, metrics, writes: tokio::sync::Mutex::new(()) })
    }

    /// Broadcast a local write, answering with its version.
    async fn broadcast(&self, update: Update) -> Response {
        let version = update.entry.version.to_string();
        match self.node.broadcast(Some(&update.key), update.encode()).await {
            Ok(_) => (StatusCode::OK, [(VERSION_HEADER, version.clone())], format!("{version}\n")).into_response(),
            // The write stays here and spreads with anti-entropy if the member still runs.
            Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("written here as {version}, not broadcast: {e}\n"))
                .into_response(),
        }
    }
}

/// Where the interface listens (`--http`).
#[derive(Clone, Debug)]
pub enum Listen {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix socket's path: reachable from every network namespace of the host.
    Unix(PathBuf),
}

/// A bound [`Listen`].
pub enum Listener {
    /// TCP.
    Tcp(tokio::net::TcpListener),
    /// A Unix socket.
    Unix(tokio::net::UnixListener),
}

impl Listen {
    /// `host:port` or `unix:PATH`.
    pub fn parse(s: &str) -> Result<Listen, String> {
        match s.strip_prefix("unix:") {
            Some("") => Err("`unix:` needs a path".into()),
            Some(path) => Ok(Listen::Unix(path.into())),
            None => s.parse().map(Listen::Tcp).map_err(|_| format!("`{s}` is neither host:port nor unix:PATH")),
        }
    }

    /// Bind, returning the listener and where it really listens (the port chosen for 0).
    pub async fn bind(&self) -> std::io::Result<(Listener, String)> {
        match self {
            Listen::Tcp(addr) => {
                let l = tokio::net::TcpListener::bind(addr).await?;
                let local = l.local_addr()?;
                Ok((Listener::Tcp(l), local.to_string()))
            }
            Listen::Unix(path) => {
                // A socket left by a previous life of this member (killed) would refuse the bind.
                if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
                    std::fs::remove_file(path)?;
                }
                let l = tokio::net::UnixListener::bind(path)?;
                Ok((Listener::Unix(l), format!("unix:{}", path.display())))
            }
        }
    }
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listen::Tcp(a) => write!(f, "{a}"),
            Listen::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// Serve the interface on `listener` until `shutdown` completes.
pub async fn serve(
    listener: Listener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = Router::new()
        .route("/kv", get(list))
        .route("/kv/{*key}", get(read).put(write).delete(remove))
        .route("/members", get(members))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app);
    match listener {
        Listener::Tcp(l) => axum::serve(l, router).with_graceful_shutdown(shutdown).await,
        Listener::Unix(l) => axum::serve(l, router).with_graceful_shutdown(shutdown).await,
    }
}

/// Broadcast what anti-entropy merges taught this replica, each time the hooks say some is
/// waiting, until the member stops.
pub async fn rebroadcast(app: Arc<App>, wake: Arc<Notify>) {
    loop {
        wake.notified().await;
        let _serial = app.writes.lock().await;
        let updates = lock(&app.store).take_rebroadcasts();
        for u in updates {
            if app.node.broadcast(Some(&u.key), u.encode()).await.is_err() {
                return; // the member stopped
            }
        }
    }
}

type Answer = Result<Response, Response>;

fn key_of(uri: &Uri) -> Result<Vec<u8>, Response> {
    let raw = uri.path().strip_prefix("/kv/").unwrap_or_default();
    percent_decode(raw)
        .ok_or_else(|| (StatusCode::BAD_REQUEST, "malformed percent-encoding in the key\n").into_response())
}

fn refused(e: WriteError) -> Response {
    let status = match e {
        WriteError::KeyLength { .. } => StatusCode::BAD_REQUEST,
        WriteError::ValueTooLong { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        WriteError::Full { .. } => StatusCode::INSUFFICIENT_STORAGE,
    };
    (status, format!("{e}\n")).into_response()
}

async fn write(State(app): State<Arc<App>>, uri: Uri, value: Bytes) -> Answer {
    let key = key_of(&uri)?;
    let _serial = app.writes.lock().await;
    let update = lock(&app.store).put((app.now)(), &key, &value).map_err(refused)?;
    Ok(app.broadcast(update).await)
}

async fn remove(State(app): State<Arc<App>>, uri: Uri) -> Answer {
    let key = key_of(&uri)?;
    let _serial = app.writes.lock().await;
    let update = lock(&app.store).delete((app.now)(), &key).map_err(refused)?;
    Ok(app.broadcast(update).await)
}

async fn read(State(app): State<Arc<App>>, uri: Uri) -> Answer {
    let key = key_of(&uri)?;
    let store = lock(&app.store);
    match store.get(&key) {
        Some((version, value)) => {
            Ok((StatusCode::OK, [(VERSION_HEADER, version.to_string())], value.clone()).into_response())
        }
        None => Err((StatusCode::NOT_FOUND, "not found\n").into_response()),
    }
}

async fn list(State(app): State<Arc<App>>) -> String {
    let store = lock(&app.store);
    let mut out = String::new();
    for (key, version, value) in store.live() {
        out.push_str(&format!("{} {version} {}\n", percent_encode(key), percent_encode(value)));
    }
    out
}

async fn members(State(app): State<Arc<App>>) -> Answer {
    let members =
        app.node.members().await.map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response())?;
    let mut out = String::new();
    for m in members {
        out.push_str(&format!("{} {} {:?} {}\n", m.name, m.addr, m.state, m.incarnation));
    }
    Ok(out.into_response())
}

async fn metrics(State(app): State<Arc<App>>) -> String {
    publish(app.node.name(), &lock(&app.store));
    app.metrics.render()
}

/// The store's counters and sizes, as `swim_kv_*` series labelled with the member (the
/// counters are [`super::store::StoreStats`]' fields).
fn publish(member: &str, store: &Store) {
    let s = store.stats();
    let counters = [
        ("swim_kv_puts_total", s.puts),
        ("swim_kv_deletes_total", s.deletes),
        ("swim_kv_writes_refused_total", s.writes_refused),
        ("swim_kv_applied_total", s.applied),
        ("swim_kv_stale_total", s.stale),
        ("swim_kv_refused_full_total", s.refused_full),
        ("swim_kv_refused_future_total", s.refused_future),
        ("swim_kv_malformed_total", s.malformed),
        ("swim_kv_states_merged_total", s.states_merged),
        ("swim_kv_states_sent_total", s.states_sent),
        ("swim_kv_tombstones_collected_total", s.tombstones_collected),
        ("swim_kv_rebroadcasts_total", s.rebroadcasts),
        ("swim_kv_rebroadcasts_dropped_total", s.rebroadcasts_dropped),
        ("swim_kv_own_updates_sent_total", s.own_updates_sent),
        ("swim_kv_own_updates_replaced_total", s.own_updates_replaced),
        ("swim_kv_own_updates_dropped_total", s.own_updates_dropped),
    ];
    for (name, value) in counters {
        metrics::counter!(name, "member" => member.to_owned()).absolute(value);
    }
    let gauges = [
        ("swim_kv_keys", store.len()),
        ("swim_kv_tombstones", store.tombstones()),
        ("swim_kv_state_bytes", store.state_len()),
    ];
    for (name, value) in gauges {
        metrics::gauge!(name, "member" => member.to_owned()).set(value as f64);
    }
}

/// Bytes outside `A-Z a-z 0-9 - . _ ~ /` as `%XX`.
fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `%XX` as the byte it encodes; `None` for a `%` not followed by two hex digits.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
            // Two ASCII hex digits: always UTF-8, always a byte.
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}
