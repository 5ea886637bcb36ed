"""A local stand-in for Supabase Auth (GoTrue) on 127.0.0.1, for the sign-in tests.

It answers the documented endpoints Spanlens calls: /auth/v1/token?grant_type=password,
/auth/v1/otp, /auth/v1/verify, /auth/v1/user and /auth/v1/logout, requires the
anon key in `apikey`, and issues HS256 access tokens signed with JWT_SECRET.
Magic links it "sends" are kept in `outbox`.
"""
from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt

ANON_KEY = "test-anon-key"
JWT_SECRET = "test-jwt-secret-that-is-long-enough-for-hs256"


class SupabaseStandIn:
    def __init__(self):
        # email -> {"password", "confirmed", "id"}
        self.users: dict[str, dict] = {}
        self.outbox: list[dict] = []
        self.link_hashes: dict[str, str] = {}
        self.revoked: set[str] = set()
        self.logouts: list[str] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                standin._handle(self, "GET")

            def do_POST(self):
                standin._handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_user(self, email: str, password: str, confirmed: bool = True) -> None:
        self.users[email] = {"password": password, "confirmed": confirmed, "id": str(uuid.uuid4())}

    def _user_json(self, email: str) -> dict:
        u = self.users[email]
        return {"id": u["id"], "aud": "authenticated", "role": "authenticated", "email": email,
                "email_confirmed_at": "2026-11-01T00:00:00Z" if u["confirmed"] else None}

    def _session(self, email: str) -> dict:
        now = int(time.time())
        token = jwt.encode({"sub": self.users[email]["id"], "email": email, "aud": "authenticated",
                            "role": "authenticated", "iat": now, "exp": now + 3600, "session_id": str(uuid.uuid4())},
                           JWT_SECRET, algorithm="HS256")
        return {"access_token": token, "token_type": "bearer", "expires_in": 3600,
                "refresh_token": secrets.token_urlsafe(12), "user": self._user_json(email)}

    def _bearer_email(self, h) -> str | None:
        token = h.headers.get("Authorization", "")[7:]
        if token in self.revoked:
            return None
        try:
            claims = jwt.decode(token, JWT_SECRET, algorithms=["HS256"], audience="authenticated")
        except jwt.PyJWTError:
            return None
        return claims.get("email")

    def _handle(self, h, method: str) -> None:
        url = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(h.headers.get("Content-Length") or 0)
        body = json.loads(h.rfile.read(length) or b"{}") if length else {}
        if h.headers.get("apikey") != ANON_KEY:
            return _json(h, 401, {"message": "No API key found in request"})
        path = url.path
        if method == "POST" and path == "/auth/v1/token" and query.get("grant_type") == "password":
            user = self.users.get(body.get("email", ""))
            if user is None or user["password"] != body.get("password"):
                return _json(h, 400, {"error": "invalid_grant", "error_description": "Invalid login credentials"})
            if not user["confirmed"]:
                return _json(h, 400, {"error": "invalid_grant", "error_description": "Email not confirmed"})
            return _json(h, 200, self._session(body["email"]))
        if method == "POST" and path == "/auth/v1/otp":
            email = body.get("email", "")
            if email in self.users:
                token_hash = secrets.token_hex(16)
                self.link_hashes[token_hash] = email
                self.outbox.append({"email": email, "token_hash": token_hash, "link":
                                    query.get("redirect_to", "") + "?" + urlencode({"token_hash": token_hash,
                                                                                   "type": "email"})})
            elif body.get("create_user", True):
                return _json(h, 400, {"msg": "signups are off in this stand-in"})
            return _json(h, 200, {})
        if method == "POST" and path == "/auth/v1/verify":
            email = self.link_hashes.pop(body.get("token_hash", ""), None)
            if email is None or body.get("type") not in ("email", "magiclink"):
                return _json(h, 403, {"code": 403, "msg": "Email link is invalid or has expired"})
            self.users[email]["confirmed"] = True
            return _json(h, 200, self._session(email))
        if method == "GET" and path == "/auth/v1/user":
            email = self._bearer_email(h)
            if email is None:
                return _json(h, 401, {"msg": "invalid JWT"})
            return _json(h, 200, self._user_json(email))
        if method == "POST" and path == "/auth/v1/logout":
            token = h.headers.get("Authorization", "")[7:]
            if self._bearer_email(h) is None:
                return _json(h, 401, {"msg": "invalid JWT"})
            self.revoked.add(token)
            self.logouts.append(token)
            h.send_response(204)
            h.end_headers()
            return
        return _json(h, 404, {"msg": "not found"})


def _json(h, status: int, payload: dict) -> None:
    data = json.dumps(payload).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)
