"""Configuration as code: a declarative file of service clients and their subscriptions,
reconciled with the database by ``gateway apply``."""
