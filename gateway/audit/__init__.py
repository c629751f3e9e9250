"""The audit trail: who did what to which connection, and when."""
