"""What Contio documents, as data: resource fields, list conventions and error bodies.

Every entry cites the section of ../shared/reference/contio-api.md it comes from, so a change to the
sandbox that drifts from the reference fails a contract test that names the fact it broke.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

# §4 Resource shapes
MEETING = frozenset({
    "id", "title", "summary_notes", "start_time", "end_time", "status", "workspace_id",
    "created_by_user_id", "calendar_event_id", "created_at", "updated_at", "redirect_to_meeting_id",
})  # fmt: skip
ACTION_ITEM = frozenset({
    "id", "meeting_id", "assigned_to_user_id", "title", "description", "status", "is_completed",
    "due_date", "completed_at", "has_partner_assignment", "partner_context", "created_at",
    "updated_at",
})  # fmt: skip
CALENDAR_EVENT = frozenset({
    "id", "title", "description", "start_time", "end_time", "location", "attendees", "organizer",
    "linked_meetings", "meeting_id",
})  # fmt: skip
AGENDA_ITEM = frozenset({
    "id", "meeting_id", "title", "description", "item_type", "status", "sequence",
    "time_allocation_minutes", "talking_points", "presenters", "presenter_details", "created_at",
    "updated_at",
})  # fmt: skip
PARTICIPANT = frozenset({
    "id", "meeting_id", "user_id", "email", "name", "role", "is_attended", "created_at",
    "updated_at",
})  # fmt: skip
# §4 getUserProfile, §3 step 5
PROFILE = frozenset({
    "id", "display_name", "email", "created_at", "workspace_id", "workspace_name",
    "workspace_role", "plan_type", "timezone",
})  # fmt: skip
CREATED_FROM_EVENT = frozenset({"created", "meeting", "message"})
FOUND_FROM_EVENT = frozenset({"created", "meeting"})

# §5 Admin API
CONNECTION = frozenset({
    "id", "user_id", "user_name", "user_email", "oauth_scopes", "oauth_expires_at",
    "feature_activated_at", "last_used_at", "status", "created_at", "updated_at",
})  # fmt: skip
WORKSPACE = frozenset({"workspace_id", "workspace_name", "provisioned_at", "user_count"})
DELIVERY = frozenset({
    "id", "partner_app_id", "event_id", "event_type", "delivery_status", "http_status_code",
    "retry_count", "next_retry_at", "delivered_at", "error_message", "created_at",
})  # fmt: skip
RETRY = frozenset({"delivery_id", "message", "retry_scheduled", "retry_count", "next_retry_at"})
PARTNER_APP = frozenset({
    "id", "name", "description", "company_name", "client_id", "slug", "status",
    "primary_contact_email", "webhook_url", "webhook_enabled", "webhook_filter",
    "default_toolkit_id", "created_at", "updated_at",
})  # fmt: skip

# §3 provisioning, §2.6 check-consent, §2.1 POST /oauth2/authorize
INITIATE = frozenset({"session", "challenge_name", "challenge_params", "user_provisioned"})
VERIFY = frozenset({"success", "message", "redirect"})
CHECK_CONSENT = frozenset({"has_consent", "requires_consent", "session_valid", "redirect_url"})
AUTHORIZE = frozenset({"code", "redirect_url", "state"})

# §2.3 - §2.5, §2.1
TOKEN = frozenset(
    {"access_token", "token_type", "expires_in", "refresh_token", "scope", "id_token"}
)
INTROSPECTION = frozenset({
    "active", "scope", "client_id", "username", "sub", "exp", "iat", "nbf", "iss", "aud",
    "token_type", "ext",
})  # fmt: skip
USERINFO = frozenset({
    "sub", "email", "email_verified", "name", "given_name", "family_name", "picture", "locale",
    "phone_number", "phone_number_verified",
})  # fmt: skip
HEALTH = frozenset({"status", "service", "timestamp", "checks"})
DISCOVERY = frozenset({
    "issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
    "introspection_endpoint", "revocation_endpoint", "response_types_supported",
    "scopes_supported", "subject_types_supported", "id_token_signing_alg_values_supported",
    "token_endpoint_auth_methods_supported", "claims_supported",
})  # fmt: skip

# §4 Conventions, §5: offset pagination
PAGE = frozenset({"items", "total", "limit", "offset"})
DELIVERY_PAGE = frozenset({"deliveries", "total", "limit", "offset"})
USER_DEFAULT_LIMIT, ADMIN_DEFAULT_LIMIT, MAX_LIMIT = 25, 50, 100

# §7 PartnerErrorResponse; the WAF's 429 body; §2.3 OAuth errors
ERROR = frozenset({"code", "error", "message", "request_id"})
RATE_LIMITED = {"error": "rate_limit_exceeded", "error_description": "Too many requests."}
OAUTH_ERROR = frozenset({"error", "error_description", "request_id"})

# §4 enums
MEETING_STATUSES = {"draft", "scheduled", "in_progress", "ended", "completed"}
ACTION_ITEM_STATUSES = {
    "needs_review", "accepted", "in_progress", "blocked", "completed", "cancelled",
}  # fmt: skip
ROLES = {"WORKSPACE_OWNER", "WORKSPACE_ADMIN", "WORKSPACE_MEMBER"}


def is_rfc3339(value: Any) -> bool:
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def is_uuid(value: Any) -> bool:
    try:
        UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)
