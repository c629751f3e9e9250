"""What the sandbox remembers, in memory: the store and the records it keeps (users, workspaces,
codes, grants, tokens, connections, meetings and the rest of the user API's content, webhook
deliveries)."""
