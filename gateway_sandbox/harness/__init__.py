"""What exists only in the sandbox: the ``/_sandbox/`` control API and the lost-response fault."""
