"""Read-model projectors of the leave service (balance, pending, calendar, audit) and their rebuild."""
