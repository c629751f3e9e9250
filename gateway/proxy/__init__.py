"""The token-injecting proxy: internal services call the provider's API as one of their users."""
