"""SQLite storage: the Database (one writer, explicit transactions), migrations, repositories."""
