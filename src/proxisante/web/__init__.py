"""The web application: its composition root (:mod:`.app`), the JSON API (:mod:`.api`), the French pages
(:mod:`.pages`), the services they share (:mod:`.services`), disclosure for protected audiences (:mod:`.access`)
and security (:mod:`.security`). Jinja2 templates, htmx and Plotly, all served from the package.

Nothing outside ``web`` and ``cli`` imports it.
"""
