"""Domain-free building blocks: encryption, database, HTTP plumbing. Nothing here imports a domain."""
