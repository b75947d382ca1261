"""The French pages of the web application: Jinja2 templates, htmx, Plotly, all served from the package."""
