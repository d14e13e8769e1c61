"""The outside world -> plain data: fetching (behind the network guard), parsing, OPML.

No database, no FastAPI, no SQLModel: everything returned is a frozen dataclass from
:mod:`ingest.types`, every failure an :class:`ingest.errors.IngestError` with a stable code.
"""
