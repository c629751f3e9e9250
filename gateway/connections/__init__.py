"""Connections: a user's stored grant at a provider, sealed at rest."""
