"""The operators' console: server-rendered pages at ``/console``.

Each operator signs in with their own admin service key, so the audit trail names who acted; the pages
call the same services as the admin API and the CLI, and never show a token. No page runs a script.

    routes.py       the console's URL map, mounted at /console with its security headers (headers.py)
    secret.py       the session signing keys, derived from the encryption key ring (HKDF)
    session.py      the signed session cookie: who, since when, its CSRF token
    guard.py        the signed-in operator of a request and the CSRF check of every form
    signin.py       signing in and out
    connections.py  the connections list (search.py: by user id, exact or prefix) and a connection's
                    page (history.py: its audit trail and outbound events; views.py: display values)
    actions.py      revoke (after a confirmation step) and refresh now
    clients.py      the service clients list
    render.py       pages from templates/console/, and expected errors (errors.py) as pages
"""
