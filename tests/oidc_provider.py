"""A small OpenID Connect provider on 127.0.0.1 for the SSO tests.

It serves what Spanlens reads from a real one: the discovery document, a JWKS
with one RSA key, an authorize page (a "Continue as ..." button), a token
endpoint that checks the client secret, redirect URI and PKCE verifier and
signs RS256 id tokens, and userinfo. `provider.account` is who signs in next.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "spanlens-test"
CLIENT_SECRET = "test-client-secret"
KID = "test-key-1"


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class OIDCProvider:
    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.account: dict = {"sub": "u-1", "email": "ada@acme.test", "email_verified": True, "groups": []}
        self.codes: dict[str, dict] = {}
        self.tokens: dict[str, dict] = {}
        self.token_requests: list[dict] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                provider._get(self)

            def do_POST(self):
                provider._post(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "OIDCProvider":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- endpoints ---------------------------------------------------------------

    def discovery(self) -> dict:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def jwks(self) -> dict:
        numbers = self.key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "kid": KID, "alg": "RS256", "use": "sig",
                          "n": _b64(numbers.n), "e": _b64(numbers.e)}]}

    def approve(self, query: dict) -> str:
        """The redirect back to the client after the person clicks Continue."""
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"query": query, "account": dict(self.account)}
        return query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})

    def _get(self, h):
        url = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/.well-known/openid-configuration":
            return _json(h, 200, self.discovery())
        if url.path == "/jwks":
            return _json(h, 200, self.jwks())
        if url.path == "/authorize":
            if query.get("client_id") != CLIENT_ID or query.get("code_challenge_method") != "S256":
                return _json(h, 400, {"error": "invalid_request"})
            hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                             for k, v in query.items())
            page = (
                "<!doctype html><html><head><title>Test IdP · Sign in</title><style>"
                "body{font-family:sans-serif;background:#f4f4f5;display:grid;place-items:center;height:100vh;margin:0}"
                "form{background:#fff;padding:32px;border-radius:10px;box-shadow:0 4px 20px #0002;width:320px}"
                "button{width:100%;padding:10px;background:#0f766e;color:#fff;border:0;border-radius:6px;font-size:15px}"
                "</style></head><body><form method=post action=/authorize>"
                f"<h2>Test identity provider</h2><p>Sign in to <b>Spanlens</b> as<br><b id=account>"
                f"{html.escape(self.account['email'])}</b></p>{hidden}"
                "<button id=continue type=submit>Continue</button></form></body></html>"
            )
            return _send(h, 200, page.encode(), "text/html")
        if url.path == "/userinfo":
            token = h.headers.get("Authorization", "")[7:]
            account = self.tokens.get(token)
            return _json(h, 200, account) if account else _json(h, 401, {"error": "invalid_token"})
        return _json(h, 404, {"error": "not found"})

    def _post(self, h):
        url = urlsplit(h.path)
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0)).decode()
        form = {k: v[0] for k, v in parse_qs(body).items()}
        if url.path == "/authorize":
            h.send_response(302)
            h.send_header("Location", self.approve(form))
            h.end_headers()
            return
        if url.path == "/token":
            self.token_requests.append(form)
            grant = self.codes.pop(form.get("code", ""), None)
            if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                return _json(h, 401, {"error": "invalid_client"})
            if grant is None or form.get("redirect_uri") != grant["query"]["redirect_uri"]:
                return _json(h, 400, {"error": "invalid_grant"})
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if challenge != grant["query"].get("code_challenge"):
                return _json(h, 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"})
            now = int(time.time())
            account = grant["account"]
            id_token = jwt.encode(
                {"iss": self.url, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                 "nonce": grant["query"].get("nonce"), **account},
                self.key, algorithm="RS256", headers={"kid": KID},
            )
            access = secrets.token_urlsafe(16)
            self.tokens[access] = account
            return _json(h, 200, {"access_token": access, "token_type": "Bearer", "expires_in": 300,
                                  "id_token": id_token})
        return _json(h, 404, {"error": "not found"})


def _send(h, status: int, body: bytes, content_type: str) -> None:
    h.send_response(status)
    h.send_header("Content-Type", content_type)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def _json(h, status: int, payload: dict) -> None:
    _send(h, status, json.dumps(payload).encode(), "application/json")
