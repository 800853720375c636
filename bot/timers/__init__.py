"""Due-time rows and their scanner: the database, not the scheduler, remembers what is due."""
