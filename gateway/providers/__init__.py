"""The OAuth boundary: providers, their configuration, and a typed client for their endpoints.

Only this package imports authlib or joserfc, and httpx errors stop here: callers see the types
below and the errors of ``gateway.providers.errors``.
"""

from gateway.providers.client import OAuthClient
from gateway.providers.config import ProviderConfig
from gateway.providers.errors import (
    ClientRejected,
    GrantRejected,
    InvalidIdToken,
    IssuerMismatch,
    ProviderError,
    ProviderNotFound,
    ProviderUnavailable,
)
from gateway.providers.pkce import code_challenge, new_code_verifier, new_nonce, new_state
from gateway.providers.registry import ProviderRegistry, build_registry
from gateway.providers.token_response import TokenSet

__all__ = [
    "ClientRejected",
    "GrantRejected",
    "InvalidIdToken",
    "IssuerMismatch",
    "OAuthClient",
    "ProviderConfig",
    "ProviderError",
    "ProviderNotFound",
    "ProviderRegistry",
    "ProviderUnavailable",
    "TokenSet",
    "build_registry",
    "code_challenge",
    "new_code_verifier",
    "new_nonce",
    "new_state",
]
