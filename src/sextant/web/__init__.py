"""The HTTP server: the ingestion API now, the web app and query API as they are built."""
