"""OAuth 2.0 and OpenID Connect, as Contio serves them: discovery, the browser and token endpoints,
revocation, introspection, userinfo, and the consent and error pages."""
