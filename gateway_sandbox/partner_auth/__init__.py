"""Partner-auth provisioning: one-time codes that open a session, and consent given without a
browser for the user of such a session."""
