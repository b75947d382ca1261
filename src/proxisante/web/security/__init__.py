"""Who may see what: accounts, sessions, roles and permissions, the audit of nominative reads, security limits."""
