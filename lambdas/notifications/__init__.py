"""The notifications bounded context: reacts to leave events published on the shared bus."""
