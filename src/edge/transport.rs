//! How processor requests leave the worker: the transport of the payment
//! core's processor calls (`crate::payment::execute`) and of the sandbox's
//! direct endpoint. The sandbox's URL goes to its Durable Object; real
//! processors have no transport yet, so any other URL is reported as not
//! sent (nothing was charged).

use std::time::Duration;

use futures_util::future::{select, Either};
use switchyard_processors::sandbox::SANDBOX_BASE;
use switchyard_processors::{Delivery, ProcessorConfig, WireRequest, WireResponse};
use worker::{Delay, Env, Headers, Method, Request, RequestInit};

use super::objects::{stub, Binding};
use super::runtime::now_ms;
use crate::auth::Mode;
use crate::payment::Transport;

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
}

/// Sends a processor request and waits at most `timeout_ms`. The sandbox's
/// URL goes to its Durable Object; real processors' adapters are not
/// configured yet, so any other URL is reported as not sent.
async fn send(
    env: &Env,
    mode: Mode,
    cfg: &ProcessorConfig,
    req: WireRequest,
    timeout_ms: u32,
) -> Delivery {
    if !req.url.starts_with(SANDBOX_BASE) {
        return Delivery::NotSent(format!("no transport for {}", cfg.id));
    }
    let stub = match stub(env, Binding::Sandbox, mode, Some(&cfg.id)) {
        Ok(s) => s,
        Err(e) => return Delivery::NotSent(format!("sandbox unreachable: {}", e.message)),
    };
    let headers = Headers::new();
    for (k, v) in &req.headers {
        if headers.set(k, v).is_err() {
            return Delivery::NotSent("invalid header".into());
        }
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(req.body().into()));
    let request = match Request::new_with_init(&req.url, &init) {
        Ok(r) => r,
        Err(e) => return Delivery::NotSent(format!("request not built: {e}")),
    };
    drop(req);
    let exchange = async {
        let mut resp = stub.fetch_with_request(request).await?;
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
        Either::Right(_) => Delivery::Lost(format!("no answer within {timeout_ms} ms")),
    }
}
