//! How processor requests leave the worker: the transport of the payment
//! core's processor calls (`crate::payment::execute`) and of the sandbox's
//! direct endpoint. The sandbox's URL goes to its Durable Object; a real
//! processor's goes out with `fetch`, aborted at its timeout. The circuit
//! of each processor is asked and told through here too (`health_do`).

use std::time::Duration;

use futures_util::future::{select, Either};
use switchyard_processors::sandbox::SANDBOX_BASE;
use switchyard_processors::{Delivery, ProcessorConfig, WireRequest, WireResponse};
use worker::{AbortController, Delay, Env, Fetch, Headers, Method, Request, RequestInit};

use super::health_do;
use super::objects::{stub, Binding};
use super::runtime::now_ms;
use crate::auth::Mode;
use crate::payment::{Admission, Transport};

/// Requests of one mode, from this isolate.
pub(crate) struct EdgeTransport<'a> {
    pub env: &'a Env,
    pub mode: Mode,
}

impl Transport for EdgeTransport<'_> {
    async fn send(&self, cfg: &ProcessorConfig, req: WireRequest, timeout_ms: u32) -> Delivery {
        send(self.env, self.mode, cfg, req, timeout_ms).await
    }

    fn now_ms(&self) -> u64 {
        now_ms()
    }

    async fn admit(&self, processor: &str) -> Admission {
        health_do::admit(self.env, self.mode, processor).await
    }

    fn report(&self, processor: &str, failed: bool, probe: bool) {
        health_do::report(self.env, self.mode, processor, failed, probe)
    }
}

/// Sends a processor request and waits at most `timeout_ms`. The sandbox's
/// URL goes to its Durable Object, any other out with `fetch`.
async fn send(
    env: &Env,
    mode: Mode,
    cfg: &ProcessorConfig,
    req: WireRequest,
    timeout_ms: u32,
) -> Delivery {
    if !req.url.starts_with(SANDBOX_BASE) {
        if cfg.connect_check {
            if let Err(reason) = reachable(&req.url, timeout_ms).await {
                return Delivery::NotSent(reason);
            }
        }
        return send_out(req, timeout_ms).await;
    }
    let stub = match stub(env, Binding::Sandbox, mode, Some(&cfg.id)) {
        Ok(s) => s,
        Err(e) => return Delivery::NotSent(format!("sandbox unreachable: {}", e.message)),
    };
    let request = match request_of(req) {
        Ok(r) => r,
        Err(not_sent) => return not_sent,
    };
    answer_within(stub.fetch_with_request(request), timeout_ms, || {}).await
}

/// The Workers request of a processor request. The request holds card data:
/// it is consumed here, never logged.
fn request_of(req: WireRequest) -> Result<Request, Delivery> {
    let headers = Headers::new();
    for (k, v) in &req.headers {
        if headers.set(k, v).is_err() {
            return Err(Delivery::NotSent(format!("invalid header {k}")));
        }
    }
    let method = method_of(req.method);
    let mut init = RequestInit::new();
    init.with_method(method.clone()).with_headers(headers);
    if method != Method::Get {
        init.with_body(Some(req.body().into()));
    }
    Request::new_with_init(&req.url, &init)
        .map_err(|e| Delivery::NotSent(format!("request not built: {e}")))
}

/// The answer to a sent request, read whole within `timeout_ms`; after
/// that, `on_timeout` (aborting the request) and `Lost`. A failure after
/// sending is `Lost` too: the request may have reached the processor.
async fn answer_within(
    response: impl std::future::Future<Output = worker::Result<worker::Response>>,
    timeout_ms: u32,
    on_timeout: impl FnOnce(),
) -> Delivery {
    let exchange = async {
        let mut resp = response.await?;
        let status = resp.status_code();
        let headers: Vec<(String, String)> = resp.headers().entries().collect();
        let body = resp.text().await?;
        Ok::<_, worker::Error>(WireResponse {
            status,
            headers,
            body,
        })
    };
    let timer = Delay::from(Duration::from_millis(u64::from(timeout_ms)));
    futures_util::pin_mut!(exchange);
    match select(exchange, timer).await {
        Either::Left((Ok(resp), _)) => Delivery::Answered(resp),
        Either::Left((Err(e), _)) => Delivery::Lost(format!("connection lost: {e}")),
        Either::Right(_) => {
            on_timeout();
            Delivery::Lost(format!("no answer within {timeout_ms} ms"))
        }
    }
}

fn method_of(m: &str) -> Method {
    match m {
        "GET" => Method::Get,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        _ => Method::Post,
    }
}

/// Whether the processor's host accepts a TCP connection now: a
/// connection opened and closed again before the request is sent (`fetch`
/// reports a refused connection and one lost after sending alike, as
/// "Network connection lost", so only this tells "certainly not sent").
/// Costs one TCP handshake per call; a processor whose host refuses
/// `connect()` (Cloudflare's own addresses) is configured with
/// `connect_check: false`, and then a refused connection is unknown.
async fn reachable(url: &str, timeout_ms: u32) -> Result<(), String> {
    let Ok(u) = url::Url::parse(url) else {
        return Err("the processor URL does not parse".into());
    };
    let (Some(host), Some(port)) = (u.host_str(), u.port_or_known_default()) else {
        return Err("the processor URL has no host".into());
    };
    let mut socket = worker::Socket::builder()
        .connect(host.trim_start_matches('[').trim_end_matches(']'), port)
        .map_err(|e| format!("connection not made: {e}"))?;
    let result = {
        let opened = socket.opened();
        let timer = Delay::from(Duration::from_millis(u64::from(timeout_ms.min(3_000))));
        futures_util::pin_mut!(opened);
        match select(opened, timer).await {
            Either::Left((Ok(_), _)) => Ok(()),
            Either::Left((Err(e), _)) => Err(format!("connection refused: {e}")),
            Either::Right(_) => Err("no connection within the time allowed".into()),
        }
    };
    let _ = socket.close().await;
    result
}

/// A real processor's request, over the network, aborted after
/// `timeout_ms`. The request holds card data: it is never logged, and the
/// error of a failed fetch is reported without it.
async fn send_out(req: WireRequest, timeout_ms: u32) -> Delivery {
    let request = match request_of(req) {
        Ok(r) => r,
        Err(not_sent) => return not_sent,
    };
    let controller = AbortController::default();
    let signal = controller.signal();
    // Connected a moment ago (`reachable`): a failure now may come after the
    // processor got the request.
    answer_within(
        Fetch::Request(request).send_with_signal(&signal),
        timeout_ms,
        || controller.abort(),
    )
    .await
}
