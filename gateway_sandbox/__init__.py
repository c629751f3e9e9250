"""An in-memory emulator of the Contio Partner API: OAuth/OIDC, partner-auth provisioning, the user
and admin APIs and outbound webhooks, plus a ``/_sandbox/`` control API for tests and developers.

It shares nothing with the gateway's domain code; ``gateway sandbox`` serves it for development and
the tests run it on loopback to play Contio.
"""

from gateway_sandbox.app import create_sandbox_app
from gateway_sandbox.options import SandboxOptions

__all__ = ["SandboxOptions", "create_sandbox_app"]
