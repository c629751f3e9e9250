"""Encryption keys for secrets at rest: finding what each key seals, and rotating to a new key."""
