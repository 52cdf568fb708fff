"""SMS and WhatsApp over a Twilio-compatible HTTP API.

``POST {base}/Messages.json`` (form-encoded ``To``, ``From``, ``Body`` or ``ContentSid`` +
``ContentVariables``, ``StatusCallback``) with HTTP basic auth (account SID, auth token); answers
201 with ``sid``/``status`` or an error ``{"code": 21610, "message": …}``. ``GET {base}/Messages.json``
lists sent messages for reconciliation. Webhooks are signed with ``X-Twilio-Signature``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Collection, Mapping

import httpx

from .base import Accepted, OutcomeUnknown, Outgoing, PermanentFailure, TransientFailure

# Twilio error codes that mean the recipient must not be messaged again.
UNSUBSCRIBED = 21610
INVALID_NUMBERS = frozenset({21211, 21214, 21614})
OUTSIDE_SESSION = 63016


def twilio_signature(token: str, url: str, params: Mapping[str, str | list[str]]) -> str:
    """Twilio's webhook signature: base64(HMAC-SHA1(token, url + each key and its values, sorted))."""
    payload = url
    for key in sorted(params):
        values = params[key]
        for value in sorted(values) if isinstance(values, list) else [values]:
            payload += key + value
    digest = hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signature_valid(token: str, url: str, params: Mapping[str, str | list[str]], signature: str) -> bool:
    if not token or not signature:
        return False
    return hmac.compare_digest(twilio_signature(token, url, params), signature)


class TwilioHttpProvider:
    def __init__(
        self, *, name: str, base_url: str, account_sid: str, token: str, sender: str,
        whatsapp: bool = False, timeout: float = 10.0, client: httpx.Client | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        if account_sid:
            self.base_url += f"/Accounts/{account_sid}"
        self.auth = (account_sid, token)
        self.sender = sender
        self.whatsapp = whatsapp
        self.timeout = timeout
        self.client = client or httpx.Client(timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)))

    def _address(self, number: str) -> str:
        return f"whatsapp:{number}" if self.whatsapp and not number.startswith("whatsapp:") else number

    def _form(self, message: Outgoing) -> dict[str, str]:
        form = {"To": self._address(message.to), "From": self._address(self.sender)}
        if message.provider_template:
            form["ContentSid"] = message.provider_template
            form["ContentVariables"] = json.dumps(
                {str(i): v for i, v in enumerate(message.provider_params, start=1)}
            )
        else:
            form["Body"] = message.body
        if message.status_callback:
            form["StatusCallback"] = message.status_callback
        return form

    def send(self, message: Outgoing) -> Accepted:
        try:
            response = self.client.post(
                f"{self.base_url}/Messages.json", data=self._form(message), auth=self.auth,
                headers={"Idempotency-Key": message.idempotency_key} if message.idempotency_key else {},
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteTimeout) as exc:
            raise TransientFailure(f"{self.name} unreachable: {exc!r}") from exc
        except (httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise OutcomeUnknown(f"{self.name} did not answer after the request was sent: {exc!r}") from exc
        return self._outcome(response)

    def _outcome(self, response: httpx.Response) -> Accepted:
        if response.status_code in (200, 201):
            try:
                data = response.json()
                sid = str(data["sid"]) if isinstance(data, dict) and data.get("sid") else ""
            except ValueError:
                sid = ""
            if not sid:
                # The provider said yes but we cannot read the receipt: it may well have taken the
                # message, so reconcile (look it up) rather than resend.
                raise OutcomeUnknown(f"{self.name} answered {response.status_code} without a readable "
                                     f"message id: {response.text[:120]!r}", code=str(response.status_code))
            return Accepted(provider_message_id=sid,
                            status="delivered" if data.get("status") == "delivered" else "sent")
        try:
            data = response.json()
        except ValueError:
            data = {}
        if not isinstance(data, dict):  # an HTML error page, a bare list …: only the status tells
            data = {}
        code = str(data.get("code", "") or response.status_code)
        text = data.get("message") or response.reason_phrase
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientFailure(f"{self.name} answered {response.status_code}: {text}", code=code)
        if code == str(UNSUBSCRIBED):
            raise PermanentFailure(f"Recipient unsubscribed ({code}): {text}", code=code, suppress="opt_out")
        raise PermanentFailure(f"{self.name} refused ({code}): {text}", code=code)

    def lookup(self, message: Outgoing, *, taken: Collection[str] = ()) -> Accepted | None:
        params = {"To": self._address(message.to)}
        if message.attempt_started_at is not None:
            params["DateSent>"] = message.attempt_started_at.date().isoformat()
        try:
            response = self.client.get(f"{self.base_url}/Messages.json", params=params, auth=self.auth)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OutcomeUnknown(f"{self.name} could not be asked: {exc!r}") from exc
        listed = data.get("messages") if isinstance(data, dict) else None
        if not isinstance(listed, list):
            raise OutcomeUnknown(f"{self.name} answered the lookup with no message list: {response.text[:120]!r}")
        variables = json.dumps({str(i): v for i, v in enumerate(message.provider_params, start=1)})
        for item in listed:
            if not isinstance(item, dict) or not item.get("sid") or str(item["sid"]) in taken:
                continue  # a receipt another of our messages already owns is not this one's
            same_body = message.body and item.get("body") == message.body
            same_template = message.provider_template and item.get("content_sid") == message.provider_template and (
                item.get("content_variables") in (None, "", variables))
            if same_body or same_template:
                return Accepted(provider_message_id=str(item["sid"]))
        return None
