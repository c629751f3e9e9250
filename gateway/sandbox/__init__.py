"""An in-memory emulator of the Contio Partner API: OAuth/OIDC endpoints and the user API.

It shares nothing with the gateway's domain code; ``gateway sandbox`` serves it for development and
the tests run it on loopback to play Contio.
"""

from gateway.sandbox.app import create_sandbox_app
from gateway.sandbox.options import SandboxOptions

__all__ = ["SandboxOptions", "create_sandbox_app"]
