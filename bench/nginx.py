"""nginx twice over: the fast upstream (a static answer shaped like Contio's ``GET /meetings``) and
the reference reverse proxy in front of it, the ceiling of any proxy on this machine."""

from __future__ import annotations

import json
from pathlib import Path

from bench.machine import CpuPlan
from bench.processes import Service, start

# Three meetings, as the sandbox lists them; about a kilobyte, like a real page of results.
MEETINGS = {
    "items": [
        {
            "id": f"8f1c2d3e-0000-4000-8000-00000000000{n}",
            "title": title,
            "status": "completed",
            "start_time": f"2026-10-0{n}T09:00:00Z",
            "end_time": f"2026-10-0{n}T09:30:00Z",
            "workspace_id": "5b0e9a52-6d0c-4b7a-9a8e-3f2f1c0d9e11",
            "participant_count": 3 + n,
            "has_transcript": True,
            "created_at": f"2026-09-2{n}T12:00:00Z",
            "updated_at": f"2026-10-0{n}T10:00:00Z",
        }
        for n, title in enumerate(("Weekly sync", "Design review", "Customer call"), start=1)
    ],
    "total": 3,
    "limit": 20,
    "offset": 0,
}
BODY = json.dumps(MEETINGS, separators=(",", ":"))

COMMON = """
worker_processes 1;
daemon off;
pid {work}/{name}.pid;
error_log {work}/{name}.error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_body_temp_path {work}/{name}-body;
    proxy_temp_path {work}/{name}-proxy;
    fastcgi_temp_path {work}/{name}-fastcgi;
    uwsgi_temp_path {work}/{name}-uwsgi;
    scgi_temp_path {work}/{name}-scgi;
{http}
}}
"""

UPSTREAM = """
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        default_type application/json;
        location / {{ return 200 '{body}'; }}
    }}
"""

PROXY = """
    upstream contio {{
        server 127.0.0.1:{upstream};
        keepalive 256;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://contio;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
"""


def config(name: str, work: Path, http: str) -> Path:
    path = work / f"{name}.conf"
    path.write_text(COMMON.format(name=name, work=work, http=http))
    return path


def start_upstream(
    nginx: str, name: str, port: int, work: Path, plan: CpuPlan, role: str
) -> Service:
    assert "'" not in BODY and "$" not in BODY  # nginx would read them as quoting or variables
    conf = config(name, work, UPSTREAM.format(port=port, body=BODY))
    command = plan.pinned([nginx, "-p", str(work), "-c", str(conf), "-e", "stderr"], role)
    return start(name, command, url=f"http://127.0.0.1:{port}")


def start_proxy(nginx: str, port: int, upstream: int, work: Path, plan: CpuPlan) -> Service:
    conf = config("nginx-proxy", work, PROXY.format(port=port, upstream=upstream))
    command = plan.pinned([nginx, "-p", str(work), "-c", str(conf), "-e", "stderr"], "servers")
    return start("nginx", command, url=f"http://127.0.0.1:{port}")
