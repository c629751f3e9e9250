"""``make bench``: the proxy against its ceilings, and the refresher against the sandbox (issue 5).

Run as ``python -m bench``; ``BENCH_*`` variables shape the run (see ``settings``). The package is a
tool of the repository, not part of the gateway: nothing under ``gateway/`` imports it.
"""
