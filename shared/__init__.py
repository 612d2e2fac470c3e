"""What every package uses: settings, database, crypto, logging, ids, domain errors."""
