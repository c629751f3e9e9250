"""The gateway's one error tree, as every layer above ``kit`` takes it: the tree drawn in
``gateway.kit.errors`` (its shape and HTTP statuses are described there), and the errors that more
than one domain raises or answers."""

from __future__ import annotations

from gateway.kit.errors import GATEWAY_ERROR_HEADER as GATEWAY_ERROR_HEADER
from gateway.kit.errors import BadRequest as BadRequest
from gateway.kit.errors import Conflict as Conflict
from gateway.kit.errors import Forbidden as Forbidden
from gateway.kit.errors import GatewayError as GatewayError
from gateway.kit.errors import GatewayTimeout as GatewayTimeout
from gateway.kit.errors import Gone as Gone
from gateway.kit.errors import NotFound as NotFound
from gateway.kit.errors import PayloadTooLarge as PayloadTooLarge
from gateway.kit.errors import PreconditionFailed as PreconditionFailed
from gateway.kit.errors import ServiceUnavailable as ServiceUnavailable
from gateway.kit.errors import TooManyRequests as TooManyRequests
from gateway.kit.errors import Unauthorized as Unauthorized
from gateway.kit.errors import UnprocessableContent as UnprocessableContent
from gateway.kit.errors import UnsupportedMediaType as UnsupportedMediaType
from gateway.kit.errors import UpstreamError as UpstreamError
from gateway.kit.errors import error_response as error_response
from gateway.kit.errors import handle_gateway_error as handle_gateway_error
from gateway.kit.errors import plain_error as plain_error


class CredentialsUnreadable(Conflict):
    """Raised when a stored secret (a connection's sealed tokens, a flow's sealed state) does not
    open with the key ring.

    A 409 like ``reauth_required``: the stored state, not the request, is what is wrong, retrying does
    not help, and a re-connect (or an operator restoring the key) ends it. Its details name the
    connection and at most the id of the key the value says it was sealed under, nothing else.
    """

    code = "credentials_unreadable"


class DelegatedKeyNotAllowed(Forbidden):
    """Raised when a delegated key is used anywhere but the proxy, for its own connection."""

    code = "delegated_key_not_allowed"


class ConfirmationRequired(GatewayError):
    """Raised when a dangerous act's ``confirm`` is missing or does not echo the number it would
    affect now (``details.affected``): nothing was done. 428: the request must be made again with
    the precondition the caller has now seen."""

    status_code = 428
    code = "confirmation_required"
