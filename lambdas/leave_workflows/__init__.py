"""The leave service's Step Functions workflows: task handlers (`rollover`, `reminders`) and
their state machine definitions (`definitions`, pure data)."""
