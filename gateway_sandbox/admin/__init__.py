"""The partner admin API under ``/v1/partner/admin``."""
