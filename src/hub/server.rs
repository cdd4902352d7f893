//! The hub's HTTP server (axum): the API of `api.rs` with its authentication, the
//! dashboard, TLS (rustls with ring) when given a certificate, the engine in the
//! background, and one log line per request (method, path, status, time: never a token
//! or a body).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde::de::DeserializeOwned;

use crate::hub::api::{self, ApiError};
use crate::hub::store::{Fault, Store, now_ms};
use crate::hub::{dashboard, engine, tokens};

/// What `bitops hub serve` was given.
pub struct Config {
    pub listen: String,
    pub database: String,
    pub admin_token: String,
    pub join_token: String,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub lost_after: Duration,
}

#[derive(Clone)]
struct Hub {
    store: Store,
    admin: Arc<String>,
    join: Arc<String>,
    poll_after_ms: u64,
}

/// An error answer: `{"error": "…"}` with its status.
#[derive(Debug)]
pub struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, axum::Json(ApiError { error: self.1 })).into_response()
    }
}

impl From<Fault> for Refusal {
    fn from(f: Fault) -> Self {
        match f {
            Fault::Invalid(m) => Refusal(StatusCode::BAD_REQUEST, m),
            Fault::NotFound(m) => Refusal(StatusCode::NOT_FOUND, m),
            Fault::Conflict(m) => Refusal(StatusCode::CONFLICT, m),
            Fault::Database(e) => {
                tracing::error!("database: {e}");
                Refusal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the hub's database failed; try again".into(),
                )
            }
        }
    }
}

type Answer<T> = Result<axum::Json<T>, Refusal>;

/// A request body, its size limited (`api::MAX_BODY`), its rejection in JSON.
struct Body(Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = Refusal;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(Body)
            .map_err(|e: BytesRejection| {
                let status = e.status();
                let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    format!("the request body is larger than {} bytes", api::MAX_BODY)
                } else {
                    format!("cannot read the request body: {}", e.body_text())
                };
                Refusal(status, message)
            })
    }
}

impl Body {
    fn parse<T: DeserializeOwned>(&self) -> Result<T, Refusal> {
        serde_json::from_slice(&self.0).map_err(|e| {
            Refusal(
                StatusCode::BAD_REQUEST,
                format!("invalid request body: {e}"),
            )
        })
    }
}

fn id_of(path: Result<Path<String>, PathRejection>, what: &str) -> Result<i64, Refusal> {
    let Ok(Path(text)) = path else {
        return Err(Refusal(StatusCode::BAD_REQUEST, "invalid path".into()));
    };
    text.parse::<i64>().map_err(|_| {
        Refusal(
            StatusCode::NOT_FOUND,
            format!(
                "no {what} `{}`: ids are numbers",
                text.chars().take(40).collect::<String>()
            ),
        )
    })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The password of HTTP Basic authentication (any user).
fn basic_password(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':').map(|(_, p)| p.to_string())
}

fn unauthorized(message: &str) -> Refusal {
    Refusal(StatusCode::UNAUTHORIZED, message.to_string())
}

fn forbidden(message: &str) -> Refusal {
    Refusal(StatusCode::FORBIDDEN, message.to_string())
}

impl Hub {
    /// The admin token, or why not.
    async fn admin(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let Some(token) = bearer(headers) else {
            return Err(unauthorized(
                "this path takes the admin token: Authorization: Bearer TOKEN",
            ));
        };
        if tokens::matches(token, &self.admin) {
            return Ok(());
        }
        self.wrong_token(token, "the admin token").await
    }

    /// The agent whose token this is, or why not.
    async fn agent(&self, headers: &HeaderMap) -> Result<(i64, String), Refusal> {
        let Some(token) = bearer(headers) else {
            return Err(unauthorized(
                "this path takes an agent's token: Authorization: Bearer TOKEN",
            ));
        };
        if let Some(agent) = self.store.agent_by_token(&tokens::hash(token)).await? {
            return Ok(agent);
        }
        self.wrong_token(token, "an agent's token").await
    }

    /// 403 for a known token of another kind, 401 for an unknown one.
    async fn wrong_token<T>(&self, token: &str, wanted: &str) -> Result<T, Refusal> {
        let kind = if tokens::matches(token, &self.admin) {
            Some("the admin token")
        } else if tokens::matches(token, &self.join) {
            Some("the join token")
        } else if self
            .store
            .agent_by_token(&tokens::hash(token))
            .await?
            .is_some()
        {
            Some("an agent's token")
        } else {
            None
        };
        Err(match kind {
            Some(kind) => forbidden(&format!(
                "{kind} is not allowed here: this path takes {wanted}"
            )),
            None => unauthorized(&format!("wrong token: this path takes {wanted}")),
        })
    }
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"status": "ok"}))
}

async fn register(
    State(hub): State<Hub>,
    headers: HeaderMap,
    body: Body,
) -> Answer<api::Registered> {
    match bearer(&headers) {
        Some(t) if tokens::matches(t, &hub.join) => {}
        Some(t) => hub.wrong_token(t, "the join token").await?,
        None => {
            return Err(unauthorized(
                "registering takes the join token: Authorization: Bearer TOKEN",
            ));
        }
    }
    let r: api::Register = body.parse()?;
    let token = tokens::generate().map_err(|e| Refusal(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    let agent_id = hub
        .store
        .register(&r, &tokens::hash(&token), now_ms())
        .await?;
    tracing::info!("agent `{}` registered (id {agent_id})", r.name);
    Ok(axum::Json(api::Registered { agent_id, token }))
}

async fn poll(State(hub): State<Hub>, headers: HeaderMap, body: Body) -> Answer<api::PollReply> {
    let (agent, _) = hub.agent(&headers).await?;
    let p: api::Poll = body.parse()?;
    let job = hub.store.poll(agent, &p, now_ms()).await?;
    Ok(axum::Json(api::PollReply {
        job,
        poll_after_ms: hub.poll_after_ms,
    }))
}

async fn job_events(
    State(hub): State<Hub>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Answer<serde_json::Value> {
    let (agent, _) = hub.agent(&headers).await?;
    let job = id_of(path, "job")?;
    let events: api::JobEvents = body.parse()?;
    let added = hub.store.add_events(agent, job, &events.events).await?;
    Ok(axum::Json(serde_json::json!({"accepted": added})))
}

async fn job_result(
    State(hub): State<Hub>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Answer<serde_json::Value> {
    let (agent, _) = hub.agent(&headers).await?;
    let job = id_of(path, "job")?;
    let result: api::JobResult = body.parse()?;
    let now = now_ms();
    let deployment = hub.store.finish_job(agent, job, &result, now).await?;
    hub.store.advance(deployment, now).await?;
    Ok(axum::Json(serde_json::json!({"recorded": true})))
}

async fn agents(State(hub): State<Hub>, headers: HeaderMap) -> Answer<Vec<api::AgentView>> {
    hub.admin(&headers).await?;
    Ok(axum::Json(hub.store.agents().await?))
}

async fn groups(State(hub): State<Hub>, headers: HeaderMap) -> Answer<Vec<api::GroupView>> {
    hub.admin(&headers).await?;
    Ok(axum::Json(hub.store.groups().await?))
}

async fn put_group(
    State(hub): State<Hub>,
    headers: HeaderMap,
    body: Body,
) -> Answer<api::GroupView> {
    hub.admin(&headers).await?;
    let g: api::NewGroup = body.parse()?;
    hub.store.put_group(&g).await?;
    let view = hub
        .store
        .groups()
        .await?
        .into_iter()
        .find(|v| v.name == g.name);
    view.map(axum::Json)
        .ok_or_else(|| Refusal(StatusCode::CONFLICT, "the group changed meanwhile".into()))
}

async fn deployments(
    State(hub): State<Hub>,
    headers: HeaderMap,
) -> Answer<Vec<api::DeploymentView>> {
    hub.admin(&headers).await?;
    Ok(axum::Json(hub.store.deployments().await?))
}

async fn create_deployment(
    State(hub): State<Hub>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, axum::Json<api::DeploymentView>), Refusal> {
    hub.admin(&headers).await?;
    let d: api::NewDeployment = body.parse()?;
    let id = hub.store.create_deployment(&d, None, now_ms()).await?;
    tracing::info!("deployment {id} created for group `{}`", d.group);
    Ok((
        StatusCode::CREATED,
        axum::Json(hub.store.deployment(id).await?),
    ))
}

async fn deployment(
    State(hub): State<Hub>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Answer<api::DeploymentView> {
    hub.admin(&headers).await?;
    let id = id_of(path, "deployment")?;
    Ok(axum::Json(hub.store.deployment(id).await?))
}

async fn deployment_action(
    State(hub): State<Hub>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Answer<api::DeploymentView> {
    hub.admin(&headers).await?;
    let Ok(Path((id, action))) = path else {
        return Err(Refusal(StatusCode::BAD_REQUEST, "invalid path".into()));
    };
    let id = id_of(Ok(Path(id)), "deployment")?;
    hub.store.act(id, &action, now_ms()).await?;
    tracing::info!("deployment {id}: {action}");
    Ok(axum::Json(hub.store.deployment(id).await?))
}

async fn redeploy(
    State(hub): State<Hub>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, axum::Json<api::DeploymentView>), Refusal> {
    hub.admin(&headers).await?;
    let r: api::Redeploy = body.parse()?;
    let Some((of, repo_url, environment, only)) = hub.store.succeeded_revision(&r.revision).await?
    else {
        return Err(Refusal(
            StatusCode::CONFLICT,
            format!(
                "revision {} never succeeded on this hub: only a revision a deployment brought to success can be redeployed",
                r.revision
            ),
        ));
    };
    let d = api::NewDeployment {
        group: r.group,
        repo_url,
        revision: r.revision,
        environment,
        only,
        strategy: r.strategy,
    };
    let id = hub.store.create_deployment(&d, Some(of), now_ms()).await?;
    tracing::info!(
        "deployment {id} redeploys deployment {of} to group `{}`",
        d.group
    );
    Ok((
        StatusCode::CREATED,
        axum::Json(hub.store.deployment(id).await?),
    ))
}

async fn dashboard_page(State(hub): State<Hub>, headers: HeaderMap) -> Response {
    let allowed = bearer(&headers).is_some_and(|t| tokens::matches(t, &hub.admin))
        || basic_password(&headers).is_some_and(|p| tokens::matches(&p, &hub.admin));
    if !allowed {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            Html("<!doctype html><title>bitops hub</title><p>The dashboard takes the admin token (as the password, any user name).</p>"),
        )
            .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"bitops hub\", charset=\"UTF-8\""),
        );
        return response;
    }
    match dashboard::page(&hub.store).await {
        Ok(html) => Html(html).into_response(),
        Err(f) => Refusal::from(f).into_response(),
    }
}

async fn not_found() -> Refusal {
    Refusal(StatusCode::NOT_FOUND, "no such path".into())
}

async fn method_not_allowed() -> Refusal {
    Refusal(
        StatusCode::METHOD_NOT_ALLOWED,
        "this path does not take that method".into(),
    )
}

/// One line per request: method, path, status, milliseconds.
async fn log_request(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().chars().take(200).collect::<String>();
    let response = next.run(req).await;
    tracing::info!(
        "{method} {path} {} {}ms",
        response.status().as_u16(),
        started.elapsed().as_millis()
    );
    response
}

fn router(hub: Hub) -> Router {
    Router::new()
        .route(api::HEALTH, get(health))
        .route(api::REGISTER, post(register))
        .route(api::POLL, post(poll))
        .route(api::JOB_EVENTS, post(job_events))
        .route(api::JOB_RESULT, post(job_result))
        .route(api::AGENTS, get(agents))
        .route(api::GROUPS, get(groups).post(put_group))
        .route(api::DEPLOYMENTS, get(deployments).post(create_deployment))
        .route(api::DEPLOYMENT, get(deployment))
        .route(api::DEPLOYMENT_ACTION, post(deployment_action))
        .route(api::REDEPLOY, post(redeploy))
        .route("/", get(dashboard_page))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(api::MAX_BODY))
        .layer(axum::middleware::from_fn(log_request))
        .with_state(hub)
}

/// Runs the hub until SIGTERM or SIGINT.
pub fn serve(config: Config) -> Result<(), String> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .with_max_level(tracing::Level::INFO)
        .try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the hub's runtime: {e}"))?;
    runtime.block_on(serve_async(config))
}

async fn serve_async(config: Config) -> Result<(), String> {
    let addr: SocketAddr = tokio::net::lookup_host(&config.listen)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            format!(
                "--listen `{}` is not an address to listen on (127.0.0.1:8080, [::]:8443)",
                config.listen
            )
        })?;
    let store = Store::open(&config.database).await?;
    let started = now_ms();
    let poll_after_ms = (config.lost_after.as_millis() as u64 / 4).clamp(200, 2000);
    let hub = Hub {
        store: store.clone(),
        admin: Arc::new(config.admin_token),
        join: Arc::new(config.join_token),
        poll_after_ms,
    };
    let app = router(hub);
    let handle = axum_server::Handle::<SocketAddr>::new();
    let engine = tokio::spawn(engine::run(store.clone(), config.lost_after, started));
    let stopper = handle.clone();
    tokio::spawn(async move {
        let name = wait_for_stop().await;
        tracing::info!("{name}: stopping (requests in flight get 5s)");
        stopper.graceful_shutdown(Some(Duration::from_secs(5)));
    });
    let announcer = handle.clone();
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let backend = store.backend();
    tokio::spawn(async move {
        if let Some(at) = announcer.listening().await {
            tracing::info!("bitops hub listening on {scheme}://{at} ({backend:?} database)");
        }
    });
    let served = match &config.tls {
        Some((cert, key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| {
                    format!(
                        "cannot use the TLS certificate {} and key {}: {e}",
                        cert.display(),
                        key.display()
                    )
                })?;
            axum_server::bind_rustls(addr, tls)
                .handle(handle)
                .serve(app.into_make_service())
                .await
        }
        None => {
            axum_server::bind(addr)
                .handle(handle)
                .serve(app.into_make_service())
                .await
        }
    };
    engine.abort();
    store.close().await;
    served.map_err(|e| format!("cannot serve on {addr}: {e}"))
}

async fn wait_for_stop() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
