"""Managing the gateway through its admin API as well as the CLI: service clients (``clients``)."""
