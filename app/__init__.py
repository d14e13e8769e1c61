"""The Kith service: composition root (config, database, storage, API, web reader, CLI)."""
