"""The durable outbox, its long-lived sender and the flood limiter; Telegram errors are mapped here."""
