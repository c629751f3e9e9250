"""What revoking a connection does, as the admin API shows it (``connections`` serves it)."""

from __future__ import annotations

from gateway.openapi.components import STATUSES, Schema, ref

SCHEMAS: dict[str, Schema] = {
    "Revocation": {
        "type": "object",
        "description": "What revoking a connection does (or did) at the provider, and the other "
        "connections holding a grant for the same provider account (same provider and subject). "
        "Revoking one never ends another that is active: with one, only this grant's tokens are "
        "revoked (RFC 7009); the provider's account-wide revocation is used only when none is.",
        "required": ["connection_id", "upstream", "sharing_connections"],
        "properties": {
            "connection_id": {"type": "string", "format": "uuid"},
            "upstream": {
                "enum": ["none", "grant_tokens", "account_wide"],
                "description": "none: no tokens are left to revoke; grant_tokens: this grant's "
                "tokens only (RFC 7009); account_wide: also the provider's revocation of every "
                "grant of the account (Contio's admin API).",
            },
            "sharing_connections": {
                "type": "array",
                "description": "The other unrevoked connections of the account, oldest first.",
                "items": {
                    "type": "object",
                    "required": ["id", "user_id", "provider", "status", "ended"],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "user_id": {"type": "string"},
                        "provider": {"type": "string"},
                        "status": {"enum": STATUSES},
                        "ended": {
                            "type": "boolean",
                            "description": "Whether the revocation ends this connection's grant "
                            "too (only with account_wide, which is used only when none of them "
                            "is active).",
                        },
                    },
                },
            },
        },
    },
    "RevokedConnection": {
        "allOf": [
            ref("Connection"),
            {
                "type": "object",
                "required": ["upstream_revocation", "revocation"],
                "properties": {
                    "status": {"const": "revoked"},
                    "revocation": ref("Revocation"),
                    "upstream_revocation": {
                        "enum": ["done", "pending", "not_possible"],
                        "description": "pending: the provider has not revoked the tokens yet "
                        "(upstream_revocation_error says why when this request's attempt failed); "
                        "the worker retries in the background. not_possible: the tokens do not "
                        "open with the key ring, so the provider was not asked. The connection is "
                        "revoked here either way.",
                    },
                    "upstream_revocation_error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "description": "Why the provider has not revoked the tokens: "
                        "credentials_unreadable (not_possible); provider_not_configured (this "
                        "gateway has no such provider configured, so it was not asked); "
                        "provider_unavailable (it could not be reached); or the code of the "
                        "provider's refusal.",
                        "properties": {
                            "code": {
                                "type": "string",
                                "examples": [
                                    "credentials_unreadable",
                                    "provider_not_configured",
                                    "provider_unavailable",
                                ],
                            },
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        ]
    },
}
