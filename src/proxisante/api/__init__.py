"""The web application's server side: accounts, roles, sessions, audit, and the JSON API over the engines.

Depends on the engines and ``runtime``; nothing outside ``api``/``web``/``cli`` imports it.
"""
