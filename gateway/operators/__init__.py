"""Operators: the people (and admin keys) who run the gateway, their roles and what each may do.

``roles``  the four roles, the permissions, and the one table that decides between them
``route_permissions``  which permission each admin-API route and console page needs
"""
