"""The payment path with Stripe's official Python SDK (stripe-python) pointed
at the worker, as merchant code written for Stripe would run it: only the
API base changes. Run by scripts/e2e.sh with its `wrangler dev` running:

    .venv/bin/python tests/e2e/sdk_python.py    (E2E_BASE_URL, E2E_SECRET_KEY)
"""

import os
import time
import unittest
import uuid

import stripe

BASE = os.environ.get("E2E_BASE_URL", "http://127.0.0.1:8787")
KEY = os.environ.get("E2E_SECRET_KEY", "sk_test_switchyard_sandbox")


def eventually(check, seconds=3.0):
    """Retries `check` until it passes: lists and search read the index,
    which the worker writes just after each operation's response."""
    until = time.monotonic() + seconds
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > until:
                raise
            time.sleep(0.025)


def client(retries=0):
    return stripe.StripeClient(KEY, base_addresses={"api": BASE}, max_network_retries=retries)


class PythonSdk(unittest.TestCase):
    def test_manual_capture_refunds_and_replay(self):
        v1 = client().v1
        pi = v1.payment_intents.create(params={
            "amount": 2000, "currency": "eur", "confirm": True, "capture_method": "manual",
            "payment_method": "pm_card_visa", "metadata": {"order": "8812"},
        })
        self.assertEqual(pi.status, "requires_capture")
        self.assertEqual(pi.metadata["order"], "8812")
        self.assertTrue(pi["processor_details"]["processor"].startswith("sandbox_"))
        self.assertEqual(pi["routing"]["attempts"][-1]["outcome"], "authorized")
        pi = v1.payment_intents.capture(pi.id, params={"amount_to_capture": 1500})
        self.assertEqual((pi.status, pi.amount_received), ("succeeded", 1500))
        key = f"py-{uuid.uuid4()}"
        r1 = v1.refunds.create(params={"payment_intent": pi.id, "amount": 500}, options={"idempotency_key": key})
        r2 = v1.refunds.create(params={"payment_intent": pi.id, "amount": 500}, options={"idempotency_key": key})
        self.assertEqual((r1.status, r2.id), ("succeeded", r1.id))
        with self.assertRaises(stripe.IdempotencyError) as e:
            v1.refunds.create(params={"payment_intent": pi.id, "amount": 600}, options={"idempotency_key": key})
        self.assertEqual(e.exception.http_status, 400)
        with self.assertRaises(stripe.InvalidRequestError) as e:
            v1.refunds.create(params={"payment_intent": pi.id, "amount": 1001})
        self.assertEqual((e.exception.http_status, e.exception.param), (400, "amount"))
        full = v1.refunds.create(params={"payment_intent": pi.id})
        self.assertEqual(full.amount, 1000)
        self.assertEqual(v1.refunds.retrieve(full.id).status, "succeeded")
        self.assertEqual(v1.payment_intents.retrieve(pi.id).amount_refunded, 1500)

    def test_declines_are_card_errors(self):
        v1 = client().v1
        with self.assertRaises(stripe.CardError) as e:
            v1.payment_intents.create(params={
                "amount": 1000, "currency": "usd", "confirm": True,
                "payment_method_data": {"type": "card", "card": {
                    "number": "4000000000009995", "exp_month": 12, "exp_year": 2031, "cvc": "123"}},
            })
        err = e.exception
        self.assertEqual((err.http_status, err.code, err.error.decline_code),
                         (402, "card_declined", "insufficient_funds"))
        self.assertNotIn("4000000000009995", str(err.json_body))
        self.assertEqual(err.error.payment_intent["status"], "requires_payment_method")

    def test_confirm_later_and_cancel(self):
        v1 = client(retries=2).v1  # the SDK's own retries and idempotency keys
        pi = v1.payment_intents.create(params={"amount": 1200, "currency": "gbp"})
        self.assertEqual(pi.status, "requires_payment_method")
        pi = v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_mastercard"})
        self.assertEqual(pi.status, "succeeded")
        c = v1.payment_intents.create(params={"amount": 900, "currency": "usd"})
        c = v1.payment_intents.cancel(c.id, params={"cancellation_reason": "requested_by_customer"})
        self.assertEqual((c.status, c.cancellation_reason), ("canceled", "requested_by_customer"))

    def test_module_level_api(self):
        # The older global style: stripe.api_key / stripe.api_base.
        stripe.api_key = KEY
        stripe.api_base = BASE
        stripe.max_network_retries = 0
        pi = stripe.PaymentIntent.create(amount=3100, currency="usd", confirm=True, payment_method="pm_card_visa")
        self.assertEqual(pi.status, "succeeded")
        self.assertEqual(stripe.PaymentIntent.retrieve(pi.id).amount_received, 3100)
        with self.assertRaises(stripe.AuthenticationError):
            stripe.PaymentIntent.retrieve(pi.id, api_key="sk_test_wrong")

    def test_lists_auto_pagination_update_search_and_charges(self):
        v1 = client().v1
        customer = f"cus_py_{uuid.uuid4().hex}"
        made = [v1.payment_intents.create(params={
            "amount": 1000 + i, "currency": "usd", "customer": customer,
            "confirm": True, "payment_method": "pm_card_visa", "metadata": {"batch": customer},
        }) for i in range(5)]
        def listed():
            page = v1.payment_intents.list(params={"customer": customer, "limit": 2})
            self.assertTrue(page.has_more)
            ids = [p.id for p in page.auto_paging_iter()]
            self.assertEqual(ids, [p.id for p in reversed(made)])
        eventually(listed)
        u = v1.payment_intents.update(made[0].id, params={"metadata": {"note": "py"}, "description": "from python"})
        self.assertEqual((u.metadata["note"], u.description), ("py", "from python"))
        with self.assertRaises(stripe.InvalidRequestError) as e:
            v1.payment_intents.update(made[0].id, params={"amount": 5000})
        self.assertEqual(e.exception.param, "amount")
        def found():
            r = v1.payment_intents.search(params={"query": f'metadata["batch"]:"{customer}" AND amount>1002', "limit": 1})
            self.assertEqual(len([p.id for p in r.auto_paging_iter()]), 2)
        eventually(found)
        pi = v1.payment_intents.retrieve(made[1].id, params={"expand": ["latest_charge"]})
        self.assertEqual(pi.latest_charge.object, "charge")
        self.assertEqual(pi.latest_charge.status, "succeeded")
        charge = v1.charges.retrieve(pi.latest_charge.id)
        self.assertEqual(charge.payment_intent, pi.id)
        self.assertEqual([c.id for c in v1.charges.list(params={"payment_intent": pi.id}).data], [charge.id])
        refund = v1.refunds.create(params={"payment_intent": pi.id, "amount": 300})
        self.assertEqual(refund.charge, charge.id)
        self.assertNotIn("failure_reason", refund)
        refund = v1.refunds.update(refund.id, params={"metadata": {"ticket": "T1"}})
        self.assertEqual(refund.metadata["ticket"], "T1")
        eventually(lambda: self.assertEqual(
            [r.id for r in v1.refunds.list(params={"payment_intent": pi.id}).data], [refund.id]))
        with self.assertRaises(stripe.InvalidRequestError) as e:
            v1.refunds.cancel(refund.id)
        self.assertEqual(e.exception.code, "refund_cannot_be_canceled")

    def test_refusals_by_name(self):
        v1 = client().v1
        with self.assertRaises(stripe.InvalidRequestError) as e:
            v1.payment_intents.create(params={"amount": 1000, "currency": "usd"}, options={"stripe_account": "acct_1"})
        self.assertEqual(e.exception.param, "Stripe-Account")
        with self.assertRaises(stripe.InvalidRequestError) as e:
            v1.payment_intents.create(params={"amount": 10, "currency": "usd"})
        self.assertEqual(e.exception.param, "amount")
        pi = v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})
        with self.assertRaises(stripe.InvalidRequestError) as e:
            v1.payment_intents.retrieve(pi.id, params={"expand": ["customer"]})
        self.assertEqual(e.exception.param, "expand")
        self.assertTrue(pi.client_secret.startswith(pi.id + "_secret_"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
