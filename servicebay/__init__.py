"""ServiceBay: customer engagement for auto-service shops."""
