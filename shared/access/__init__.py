"""Who may do what where: spaces, roles, role bindings and the audit log."""
