"""The web reader: server-rendered pages sharing the API's storage functions."""
