"""The partner user API under ``/v1/partner/user``: profile, meetings with their participants and
agenda items, action items and calendar events, one module each; ``caller`` says who may do what."""
