"""Storage, one module per aggregate. Keyword-only functions; callers own the commit."""
