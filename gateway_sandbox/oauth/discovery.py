"""OIDC discovery, the JWKS and the health check."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway_sandbox.client_assertions import ALGORITHMS as ASSERTION_ALGORITHMS
from gateway_sandbox.jwt import SigningKey
from gateway_sandbox.oauth import scopes
from gateway_sandbox.options import SandboxOptions

CLAIMS = (
    "sub", "iss", "aud", "exp", "iat", "nonce", "email", "email_verified", "name",
    "given_name", "family_name", "picture", "locale", "auth_time", "groups",
)  # fmt: skip
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
AUTH_METHODS = {
    "secret": CLIENT_AUTH_METHODS,
    "private_key_jwt": ["private_key_jwt"],
    "none": ["none"],
}


def issuer_for(request: Request, options: SandboxOptions) -> str:
    """The configured issuer, else the origin this request came in on."""
    if options.issuer:
        return options.issuer.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}"


class DiscoveryEndpoints:
    def __init__(self, options: SandboxOptions, signing_key: SigningKey) -> None:
        self.options = options
        self.signing_key = signing_key

    async def openid_configuration(self, request: Request) -> Response:
        issuer = issuer_for(request, self.options)
        methods = AUTH_METHODS[self.options.client_authentication]
        metadata: dict[str, object] = {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/oauth2/authorize",
            "token_endpoint": f"{issuer}/oauth2/token",
            "userinfo_endpoint": f"{issuer}/oauth2/userInfo",
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
            "introspection_endpoint": f"{issuer}/oauth2/introspect",
            "revocation_endpoint": f"{issuer}/oauth2/revoke",
            "end_session_endpoint": f"{issuer}/oauth2/logout",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "scopes_supported": list(scopes.SUPPORTED),
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": methods,
            "revocation_endpoint_auth_methods_supported": methods,
            "introspection_endpoint_auth_methods_supported": methods,
            "id_token_signing_alg_values_supported": ["RS256"],
            "subject_types_supported": ["public"],
            "claims_supported": list(CLAIMS),
            "authorization_response_iss_parameter_supported": True,
        }
        if self.options.client_authentication == "private_key_jwt":
            metadata["token_endpoint_auth_signing_alg_values_supported"] = ASSERTION_ALGORITHMS
        return JSONResponse(metadata)

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(self.signing_key.jwks())

    async def health(self, request: Request) -> Response:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.options.clock()))
        return JSONResponse(
            {"status": "healthy", "service": "partner-oauth", "timestamp": now, "checks": {}}
        )
