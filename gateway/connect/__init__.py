"""Connecting a user: connect sessions, the authorize redirect and the provider's callback."""
