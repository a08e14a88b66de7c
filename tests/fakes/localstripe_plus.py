"""localstripe, plus Stripe's payment intent search: the peer of the Stripe
adapter's wire tests (crates/processors/tests/stripe_wire.rs, run by
tests/processors/stripe.test.mjs).

localstripe (PyPI localstripe 1.15.10, by Adrien Vergé, GPL-3.0, installed
in .venv) is a stateful fake of Stripe's API written by others; it is used
as it is. Three things are OUR ADDITIONS, made here without changing it:

1. `GET /v1/payment_intents/search?query=...&limit=...`, which localstripe
   lacks. It follows Stripe's documented answer
   (https://docs.stripe.com/api/payment_intents/search): `{"object":
   "search_result", "url": "/v1/payment_intents/search", "has_more": false,
   "next_page": null, "data": [...]}`, newest first. Only the clause the
   adapter sends is understood: `metadata['<key>']:'<value>'` (string value
   in single quotes, `\\'` and `\\\\` escaped), optionally several joined by
   ` AND `; any other query is a 400 `invalid_request_error`, as Stripe
   answers a query it cannot parse. Unlike Stripe's, this search is
   immediately consistent (Stripe's lags up to a minute).
2. The store is kept in memory only: localstripe pickles it to
   /tmp/localstripe.pickle after every write and may load it at start,
   which would mix the state of two instances running at once.
3. `statement_descriptor` and `statement_descriptor_suffix` on
   `POST /v1/payment_intents`, which localstripe refuses as unexpected.
   They are checked as Stripe documents them
   (https://docs.stripe.com/get-started/account/statement-descriptors: at
   most 22 characters, at least one letter, none of `< > \\ ' " *`; a 400
   `invalid_request_error` naming the parameter otherwise) and shown on the
   PaymentIntent, so that the adapter's sending of them is visible.

Run: .venv/bin/python tests/fakes/localstripe_plus.py --port N
(prints `listening on http://127.0.0.1:N` when ready). Any `sk_...` secret
key authenticates.

What localstripe does NOT model (so the wire tests do not test it):
idempotency keys (ignored: a retry creates a second object), Stripe's
`decline_code`s (a charge decline is `code: card_declined` only), the
`card_error` type (every error is `invalid_request_error`), 429 and
`Stripe-Should-Retry`, the `processing` status for cards, refunds that fail.
"""

import argparse
import asyncio
import re
import sys

from aiohttp import web

import localstripe.resources as resources
from localstripe.errors import UserError

# 3. Statement descriptors on payment intents.
_pi_init = resources.PaymentIntent.__init__


def _pi_init_with_descriptors(self, *args, statement_descriptor=None,
                              statement_descriptor_suffix=None, **kwargs):
    for name, value in (('statement_descriptor', statement_descriptor),
                        ('statement_descriptor_suffix', statement_descriptor_suffix)):
        if value is None:
            continue
        if (not isinstance(value, str) or len(value) > 22
                or not re.search('[A-Za-z]', value)
                or any(c in value for c in '<>\\\'"*')):
            raise UserError(400, 'Invalid ' + name, {'param': name})
    _pi_init(self, *args, **kwargs)
    self.statement_descriptor = statement_descriptor
    self.statement_descriptor_suffix = statement_descriptor_suffix


resources.PaymentIntent.__init__ = _pi_init_with_descriptors

# 2. In memory only (before the server module is imported).
resources.Store.dump_to_disk = lambda self: None
resources.Store.try_load_from_disk = lambda self: None

from localstripe.server import app, json_response  # noqa: E402

CLAUSE = re.compile(r"^metadata\['([^'\\]+)'\]:'((?:[^'\\]|\\.)*)'$")


def parse_query(query):
    clauses = []
    for part in query.split(' AND '):
        m = CLAUSE.match(part.strip())
        if not m:
            raise UserError(400, 'Invalid search query: ' + query[:200])
        value = re.sub(r'\\(.)', r'\1', m.group(2))
        clauses.append((m.group(1), value))
    return clauses


def search_payment_intents(request):
    query = request.query.get('query')
    if not query:
        raise UserError(400, 'Missing required param: query.',
                        {'code': 'parameter_missing', 'param': 'query'})
    try:
        limit = int(request.query.get('limit', '10'))
        assert 1 <= limit <= 100
    except (ValueError, AssertionError):
        raise UserError(400, 'Invalid limit', {'param': 'limit'})
    clauses = parse_query(query)
    found = [pi for key, pi in resources.store.items()
             if key.startswith('payment_intent:')
             and all((pi.metadata or {}).get(k) == v for k, v in clauses)]
    found.sort(key=lambda pi: pi.created, reverse=True)
    return json_response({
        'object': 'search_result',
        'url': '/v1/payment_intents/search',
        'has_more': len(found) > limit,
        'next_page': None,
        'data': [pi._export() for pi in found[:limit]],
    })


@web.middleware
async def search_middleware(request, handler):
    # Runs after localstripe's own error and auth middlewares; it must
    # come before the `/v1/payment_intents/{id}` route, which would take
    # `search` for an id.
    if request.method == 'GET' and request.path == '/v1/payment_intents/search':
        return search_payment_intents(request)
    return await handler(request)


app.middlewares.append(search_middleware)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--port', type=int, default=8420)
    args = parser.parse_args()
    asyncio.run(serve(args.port))


async def serve(port):
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, '127.0.0.1', port)
    await site.start()
    # Bound: now say so (the runner waits for this line).
    print(f'listening on http://127.0.0.1:{port}', flush=True)
    await asyncio.Event().wait()


if __name__ == '__main__':
    sys.exit(main())
